"""Typed settings and the paths tvdesk uses: one place for defaults, validation and locations.

Behaviour settings live in `settings.toml` in the home folder (`--home`, else TVDESK_HOME,
else the per-user data folder); its `data_dir` moves everything else (the data folder:
database, models, captures, queue), for every command and the GUI alike, while the file itself
stays in the home folder. Unknown keys are an error so a typo never silently falls back to a
default, and every value is checked by type with its key named (`config_types`). The
`[retrain]` table holds the defaults of a retraining (`RetrainSettings`). UI state (window
geometry, recent files) is the UI's business (QSettings), not this file's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import lzma
import os
import shutil
import sys
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from tvdesk.config_types import check_field_types

APP_NAME = "tvdesk"
BUNDLED_MODEL_NAME = "tvdesk-base"  # the synthetic-world model: the synthetic camera's line
TRAFFIC_MODEL_NAME = "tvdesk-traffic"  # the COCO-trained traffic model: every real camera's line
LABELERS = ("oracle", "teacher", "import", "review")
HOME_ENV = "TVDESK_HOME"
SETTINGS_NAME = "settings.toml"
PACKED_SUFFIX = ".xz"  # the installer's packed model files (packaging/tvdesk.spec)
REDIS_MAX_MB = 512  # Redis's largest string value (proto-max-bulk-len)


class SettingsError(ValueError):
    """The settings file is wrong; the message names the key and what is allowed."""


def project_root() -> Path:
    """The source checkout, or the unpacked bundle when frozen by PyInstaller."""
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return project_root() / "resources"


def bundled_model_path(name: str = BUNDLED_MODEL_NAME) -> Path:
    """The bundled model `name`'s ONNX file, with its card, int8 copy and checkpoint beside
    it. The installer packs the ONNX files (`name.onnx.xz`): they are unpacked, once, into
    the home folder, and the model is read from there."""
    folder = resources_dir() / "models"
    onnx = f"{name}.onnx"
    if not (folder / onnx).exists() and (folder / f"{onnx}{PACKED_SUFFIX}").exists():
        folder = unpacked_models(folder)
    return folder / onnx


def unpacked_models(folder: Path) -> Path:
    """A folder in the home folder holding `folder`'s files, the packed ones unpacked; made
    once per install (named after the packed files' sizes and times), whole or not at all."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    stamp = hashlib.sha256(
        "".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns};" for p in files).encode()
    ).hexdigest()[:16]
    target = home_dir() / "bundled-models" / stamp
    if target.is_dir():
        return target
    staging = target.with_name(f".{stamp}-{os.getpid()}")
    try:
        staging.mkdir(parents=True, exist_ok=True)
        for path in files:
            if path.name.endswith(PACKED_SUFFIX):
                with (
                    lzma.open(path) as packed,
                    open(staging / path.name[: -len(PACKED_SUFFIX)], "wb") as out,
                ):
                    shutil.copyfileobj(packed, out)
            else:
                shutil.copyfile(path, staging / path.name)
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if target.is_dir():  # another process unpacked them first
            return target
        raise OSError(
            f"cannot unpack the bundled models into {target.parent} ({exc}): free some space "
            f"there or set {HOME_ENV} to a writable folder"
        ) from exc
    return target


def traffic_model_path() -> Path:
    return bundled_model_path(TRAFFIC_MODEL_NAME)


def home_dir() -> Path:
    """The app's home folder, which holds `settings.toml`: TVDESK_HOME (which the global
    `--home` option sets for a command and the processes it starts), else the per-user data
    folder (`~/.local/share/tvdesk` on Linux)."""
    override = os.environ.get(HOME_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))


def default_data_dir() -> Path:
    """The data folder (database, models, captures, queue, jobs) of every command and the GUI:
    the `data_dir` of the home folder's settings file, else the home folder itself."""
    return load_settings().data_dir


@dataclass(frozen=True)
class RetrainSettings:
    """Defaults of one retraining; a job stores the values it ran with in its params."""

    labeler: str = field(default="oracle", metadata={"help": f"one of {', '.join(LABELERS)}"})
    label_budget: int = field(default=200, metadata={"help": "frames chosen for labelling"})
    import_dir: str = field(
        default="",
        metadata={
            "help": "a labelling tool's export (YOLO folder, COCO .json or Pascal VOC folder) "
            "for the import labeler, or for the review labeler to start from"
        },
    )
    replay: int = field(
        default=250,
        metadata={
            "help": "base images mixed in against forgetting (measured, 6 min on 108 night "
            "frames: 150 lost 0.05 of day mAP50, 250 lost 0.023; night 0.59 and 0.53)"
        },
    )
    relit: int = field(
        default=120,
        metadata={
            "help": "base images relit to the drifted light and added (a fixed camera: the "
            "drifted background over the base one is the light's gain per pixel). Measured, "
            "6 min on the demo's 160 night frames and 250 day ones: held-out night mAP50 "
            "0.48 without, 0.57 with 120 (day 0.89 and 0.88); 60 and 230 gained less; "
            "0 = none"
        },
    )
    val_fraction: float = field(default=0.2, metadata={"help": "share of new frames held out"})
    epochs: int = field(
        default=0, metadata={"help": "fine-tuning epochs (0 = as many as train_minutes allows)"}
    )
    train_minutes: float = field(
        default=6.5,
        metadata={
            "help": "fine-tuning time when epochs is 0: Ultralytics fits its epochs and "
            "learning-rate schedule to it, so the new model comes in about 10 minutes"
        },
    )
    live_within_minutes: float = field(
        default=10.0,
        metadata={
            "help": "the first new version goes live within this after the approval: the "
            "first training gets what selecting and labelling left of it (at most "
            "train_minutes; a teacher labelling a real camera's frames takes ~4 minutes before "
            "training starts); 0 = always train_minutes"
        },
    )
    imgsz: int = field(
        default=320,
        metadata={
            "help": "training and evaluation image size of the synthetic camera's model; a "
            "real camera's model trains and is gated at the size the camera plays at"
        },
    )
    batch: int = field(
        default=8,
        metadata={
            "help": "training batch size; the weights move after every batch (measured, 6 min "
            "on 160 night frames and 250 day ones: batch 16 with Ultralytics' 64-image gradient "
            "accumulation reached night mAP50 0.53, a step every 16 images 0.61, every 8 0.63, "
            "day 0.88-0.89 in all three)"
        },
    )
    mosaic: bool = field(
        default=False,
        metadata={
            "help": "train on Ultralytics' mosaics (four images in one, square batches) instead "
            "of rectangular batches of whole frames. Off for the synthetic camera, whose fixed "
            "view the rectangular batches keep; a real camera's retraining turns it on: "
            "fine-tuned 6 min at 320 on 124 real fog images, held-out fog mAP50 went 0.339 to "
            "0.435 with mosaics and to 0.294 without (`python -m bench.fog_recipe`)"
        },
    )
    patience: int = field(default=5, metadata={"help": "epochs without improvement to stop"})
    min_class_boxes: int = field(
        default=20,
        metadata={
            "help": "teacher labels: a class with fewer boxes than this in the job's own "
            "training frames is left out of the class loss (its scores are neither taught nor "
            "untaught): a teacher that hardly ever names a class, as on fog, would otherwise "
            "teach that every one it missed is road; 0 = every class is taught"
        },
    )
    freeze: int = field(
        default=0,
        metadata={
            "help": "first layers kept as they are (10 = YOLOv8's backbone). Night changes the "
            "input's statistics, which the first layers must follow (measured in the headless "
            "demo: held-out night mAP50 0.15 after 8 min with the backbone frozen, 0.42 after "
            "6.7 min training the whole model)"
        },
    )
    lr0: float = field(
        default=0.0005,
        metadata={
            "help": "AdamW learning rate of the fine-tune (measured, 6 min on 160 night frames "
            "and 250 day ones: 0.0005 kept held-out day mAP50 at 0.878 and reached night 0.53; "
            "Ultralytics' automatic 0.00125 lost more day, 0.871 with 400 day images)"
        },
    )
    operator_lr0: float = field(
        default=0.0002,
        metadata={
            "help": "the learning rate instead, with an operator's labels (import or review): "
            "they name every vehicle, about three times the teacher's boxes, and move the "
            "model further. Measured on real fog with its ground truth, two seeds each, the "
            "version the gate chose: 0.0002 gained held-out fog +0.215 and +0.216 and lost "
            "0.067 and 0.076 of other cameras' day; 0.0005 +0.187 and +0.222, and 0.126 and "
            "0.108 of the day"
        },
    )
    warmup_epochs: float = field(
        default=0.0,
        metadata={"help": "learning-rate warm-up (a fine-tune starts from trained weights)"},
    )
    seed: int = field(default=0, metadata={"help": "seed of selection, split and training"})
    device: str = field(
        default="auto",
        metadata={
            "help": "torch device of the training: auto (the first CUDA GPU when the worker "
            "has one, else the CPU; the job records which), cpu, 0 (first GPU)..."
        },
    )
    threads: int = field(default=1, metadata={"help": "torch CPU threads (1 spares the player)"})
    min_gain: float = field(default=0.02, metadata={"help": "mAP50 gain needed on drifted data"})
    max_base_loss: float = field(
        default=0.03,
        metadata={
            "help": "mAP50 loss allowed on base, against the version the job started from "
            "(so refinement rounds cannot add their losses up)"
        },
    )
    refine_minutes: float = field(
        default=40.0,
        metadata={
            "help": "after its first promotion the job goes on in refinement rounds while the "
            "condition holds: new frames of it, labelled the same way, added to the set, a "
            "fine-tune from the last promoted version, the same gate. This is the job's total "
            "fine-tuning time, the first training's included; 0 = end after the first "
            "promotion. Measured: see docs/retraining.md, refinement rounds"
        },
    )
    round_minutes: float = field(
        default=10.0,
        metadata={
            "help": "fine-tuning time of each refinement round; each round adds about a "
            "minute of selection, dataset, evaluation and registration on this project's CPU"
        },
    )
    round_min_gain: float = field(
        default=0.01,
        metadata={
            "help": "a refinement round that gains less mAP50 than this on the job's night val "
            "ends the job (promotion still needs min_gain): the model has stopped learning "
            "from the new frames"
        },
    )
    base_data: str = field(
        default="", metadata={"help": "base dataset's data.yaml ('' = render it in the app data)"}
    )

    def __post_init__(self) -> None:
        check_field_types(self, "retrain.", SettingsError)
        if self.labeler not in LABELERS:
            raise SettingsError(
                f"labeler must be one of {', '.join(LABELERS)}, got {self.labeler!r}"
            )
        if self.labeler == "import" and not self.import_dir:
            raise SettingsError(
                "the import labeler needs a labelling tool's export: give --labels PATH"
            )
        for name in ("label_budget", "imgsz", "batch"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be 1 or more, got {getattr(self, name)}")
        if self.epochs < 0 or (self.epochs == 0 and self.train_minutes <= 0):
            raise SettingsError(
                "set epochs (1 or more), or epochs 0 and train_minutes above 0, "
                f"got epochs {self.epochs} and train_minutes {self.train_minutes}"
            )
        if self.replay < 0 or self.relit < 0 or self.threads < 0 or self.patience < 1:
            raise SettingsError("replay, relit and threads must be 0 or more, patience 1 or more")
        if self.live_within_minutes < 0:
            raise SettingsError(
                f"live_within_minutes must be 0 or more, got {self.live_within_minutes}"
            )
        if self.min_class_boxes < 0:
            raise SettingsError(f"min_class_boxes must be 0 or more, got {self.min_class_boxes}")
        if self.freeze < 0 or self.warmup_epochs < 0:
            raise SettingsError("freeze and warmup_epochs must be 0 or more")
        if self.refine_minutes < 0 or self.round_minutes <= 0:
            raise SettingsError(
                "refine_minutes must be 0 (no refinement rounds) or more and round_minutes "
                f"above 0, got {self.refine_minutes} and {self.round_minutes}"
            )
        if self.lr0 <= 0 or self.operator_lr0 <= 0:
            raise SettingsError(
                f"lr0 and operator_lr0 must be above 0, got {self.lr0} and {self.operator_lr0}"
            )
        if not 0.0 < self.val_fraction < 1.0:
            raise SettingsError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

    @property
    def fine_tune_lr(self) -> float:
        """The learning rate the fine-tune runs with: `operator_lr0` for an operator's labels
        (import, review), else `lr0`."""
        return self.operator_lr0 if self.labeler in ("import", "review") else self.lr0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RetrainSettings:
        """Settings from a job's params; unknown keys are an error, missing ones default."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(
                f"unknown retraining setting(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(known))}"
            )
        return cls(**values)

    def with_changes(self, **changes: Any) -> RetrainSettings:
        """A copy with the non-None values of `changes` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def base_data_yaml(self) -> Path | None:
        return Path(self.base_data) if self.base_data else None


@dataclass
class Settings:
    """Behaviour settings with their defaults; each field's metadata says what it is for."""

    data_dir: Path = field(
        default_factory=home_dir,
        metadata={
            "help": "where the database, models, captures and job queue live (default: the "
            "home folder, beside settings.toml; a relative path is taken from there)"
        },
    )
    model_path: Path = field(
        default_factory=bundled_model_path,
        metadata={"help": "ONNX model that starts the synthetic camera's model line"},
    )
    traffic_model_path: Path = field(
        default_factory=traffic_model_path,
        metadata={"help": "ONNX model that starts a new real camera's model line"},
    )
    traffic_imgsz: int = field(
        default=480,
        metadata={
            "help": "detector input size of real cameras (a camera's own setting wins). "
            "Measured (bench.traffic_input_size): 480 keeps 95 % of 640's recall on real fog "
            "at 57 % of its cost; 320 misses a quarter of the vehicles 480 finds"
        },
    )
    baseline_seconds: float = field(
        default=120.0,
        metadata={
            "help": "how long a real camera first plays to learn its own normal, which is kept "
            "and tested against from then on"
        },
    )
    scenario: str = field(
        default="day-night", metadata={"help": "synthetic camera scenario of the demo source"}
    )
    synthetic_fps: float = field(default=10.0, metadata={"help": "synthetic camera frame rate"})
    confidence: float = field(default=0.25, metadata={"help": "detection confidence threshold"})
    iou: float = field(default=0.7, metadata={"help": "NMS IoU threshold (Ultralytics default)"})
    inference_threads: int = field(
        default=1,
        metadata={"help": "ONNX Runtime intra-op threads (1 leaves a core for capture and the UI)"},
    )
    detect_every_max: int = field(
        default=3,
        metadata={
            "help": "when detection cannot keep up with a camera's frame rate, detect only "
            "every k-th frame, k adapting to the load up to this, and carry the boxes between "
            "detections along their tracks (marked as predicted); 1 detects every frame"
        },
    )
    auto_approve: bool = field(
        default=False,
        metadata={"help": "queue a retraining for every drift alarm without asking the operator"},
    )
    min_free_mb: float = field(
        default=200.0,
        metadata={
            "help": "free space (MB) a recording keeps on the disks it writes to (the data "
            "folder, an annotated video's folder): it does not start, or stops, below it; "
            "the GUI warns below twice this. 0 turns the check off"
        },
    )
    remote_max_mb: float = field(
        default=256.0,
        metadata={
            "help": "the most data (MB) one retraining may send through a Redis queue to a "
            "training worker on another machine, and the most its worker may send back "
            "(Redis holds it in memory until it is read). At most 512, Redis's largest value"
        },
    )
    retrain: RetrainSettings = field(
        default_factory=RetrainSettings,
        metadata={"help": "the [retrain] table: defaults of every retraining"},
    )

    def __post_init__(self) -> None:
        check_field_types(self, error=SettingsError)
        self.data_dir = Path(self.data_dir).expanduser()
        self.model_path = Path(self.model_path).expanduser()
        self.traffic_model_path = Path(self.traffic_model_path).expanduser()
        if isinstance(self.retrain, dict):
            self.retrain = RetrainSettings.from_dict(self.retrain)
        if not isinstance(self.retrain, RetrainSettings):
            raise SettingsError(f"retrain must be a [retrain] table, got {self.retrain!r}")
        if not 0 < self.remote_max_mb <= REDIS_MAX_MB:
            raise SettingsError(
                f"remote_max_mb must be above 0 and at most {REDIS_MAX_MB}, "
                f"got {self.remote_max_mb}"
            )
        if self.min_free_mb < 0:
            raise SettingsError(f"min_free_mb must be 0 or more, got {self.min_free_mb}")
        if not 0.0 <= self.confidence <= 1.0:
            raise SettingsError(f"confidence must be between 0 and 1, got {self.confidence}")
        if not 0.0 < self.iou <= 1.0:
            raise SettingsError(f"iou must be in (0, 1], got {self.iou}")
        if self.traffic_imgsz < 32 or self.traffic_imgsz % 32:
            raise SettingsError(
                f"traffic_imgsz must be a multiple of 32 from 32 up, got {self.traffic_imgsz}"
            )
        if not self.baseline_seconds >= 10:
            raise SettingsError(f"baseline_seconds must be 10 or more, got {self.baseline_seconds}")
        if self.synthetic_fps <= 0:
            raise SettingsError(f"synthetic_fps must be positive, got {self.synthetic_fps}")
        if not 1 <= self.detect_every_max <= 10:
            raise SettingsError(
                f"detect_every_max must be from 1 to 10, got {self.detect_every_max}"
            )
        if self.inference_threads < 1:
            raise SettingsError(
                f"inference_threads must be 1 or more, got {self.inference_threads}"
            )


def settings_path() -> Path:
    """The settings file: always in the home folder. A `data_dir` set inside it moves
    everything else (database, models, captures, queue), not the file itself."""
    return home_dir() / SETTINGS_NAME


def load_settings(path: Path | None = None) -> Settings:
    """Defaults, overridden by the settings file if there is one."""
    path = path or settings_path()
    if not path.exists():
        return Settings()
    values = _read_toml(path)
    if isinstance(values.get("data_dir"), str):  # relative to the settings file's folder
        values["data_dir"] = str(path.parent / Path(values["data_dir"]).expanduser())
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    try:
        return Settings(**values)
    except (SettingsError, TypeError) as exc:
        raise SettingsError(f"{path}: {exc}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    """The settings file's values; SettingsError with a sentence when it cannot be read."""
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except IsADirectoryError:
        raise SettingsError(
            f"{path} is a folder, not a settings file: move it aside to use the defaults"
        ) from None
    except OSError as exc:
        raise SettingsError(
            f"cannot read {path} ({exc.strerror or exc}): check its permissions"
        ) from None
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8 or delete it"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML ({exc}); fix or delete it") from None


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write the values that differ from the defaults (so new defaults reach old files)."""
    path = path or settings_path()
    defaults = Settings()
    lines = [
        f"{name} = {_toml_value(value)}"
        for name, value in _changed(settings, defaults).items()
        if name != "retrain"
    ]
    retrain = _changed(settings.retrain, defaults.retrain)
    if retrain:
        lines += ["", "[retrain]"] + [f"{k} = {_toml_value(v)}" for k, v in retrain.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)
    return path


def update_settings(path: Path | None = None, **changes: Any) -> Settings:
    """Change some settings in the settings file, keeping the rest as the file has them."""
    updated = replace(load_settings(path), **changes)
    save_settings(updated, path)
    return updated


def _changed(values: Any, defaults: Any) -> dict[str, Any]:
    return {
        f.name: getattr(values, f.name)
        for f in fields(values)
        if getattr(values, f.name) != getattr(defaults, f.name)
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string
