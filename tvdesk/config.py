"""Typed settings and the paths tvdesk uses: one place for defaults, validation and locations.

Behaviour settings live in `settings.toml` in the app data folder; unknown keys are an error
so a typo never silently falls back to a default. The `[retrain]` table holds the defaults of
a retraining (`RetrainSettings`). UI state (window geometry, recent files) is the UI's
business (QSettings), not this file's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "tvdesk"
BUNDLED_MODEL_NAME = "tvdesk-base"  # the synthetic-world model: the synthetic camera's line
TRAFFIC_MODEL_NAME = "tvdesk-traffic"  # the COCO-trained traffic model: every real camera's line
LABELERS = ("oracle", "teacher", "import", "review")


class SettingsError(ValueError):
    """The settings file is wrong; the message names the key and what is allowed."""


def project_root() -> Path:
    """The source checkout, or the unpacked bundle when frozen by PyInstaller."""
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return project_root() / "resources"


def bundled_model_path(name: str = BUNDLED_MODEL_NAME) -> Path:
    return resources_dir() / "models" / f"{name}.onnx"


def traffic_model_path() -> Path:
    return bundled_model_path(TRAFFIC_MODEL_NAME)


def default_data_dir() -> Path:
    """Per-user data folder; TVDESK_HOME overrides it (tests, portable installs)."""
    override = os.environ.get("TVDESK_HOME")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))


@dataclass(frozen=True)
class RetrainSettings:
    """Defaults of one retraining; a job stores the values it ran with in its params."""

    labeler: str = field(default="oracle", metadata={"help": f"one of {', '.join(LABELERS)}"})
    label_budget: int = field(default=200, metadata={"help": "frames chosen for labelling"})
    import_dir: str = field(default="", metadata={"help": "YOLO folder for the import labeler"})
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
    imgsz: int = field(default=320, metadata={"help": "training and evaluation image size"})
    batch: int = field(
        default=8,
        metadata={
            "help": "training batch size; the weights move after every batch (measured, 6 min "
            "on 160 night frames and 250 day ones: batch 16 with Ultralytics' 64-image gradient "
            "accumulation reached night mAP50 0.53, a step every 16 images 0.61, every 8 0.63, "
            "day 0.88-0.89 in all three)"
        },
    )
    patience: int = field(default=5, metadata={"help": "epochs without improvement to stop"})
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
    warmup_epochs: float = field(
        default=0.0,
        metadata={"help": "learning-rate warm-up (a fine-tune starts from trained weights)"},
    )
    seed: int = field(default=0, metadata={"help": "seed of selection, split and training"})
    device: str = field(default="cpu", metadata={"help": "torch device: cpu, 0 (first GPU)..."})
    threads: int = field(default=1, metadata={"help": "torch CPU threads (1 spares the player)"})
    min_gain: float = field(default=0.02, metadata={"help": "mAP50 gain needed on drifted data"})
    max_base_loss: float = field(default=0.03, metadata={"help": "mAP50 loss allowed on base"})
    base_data: str = field(
        default="", metadata={"help": "base dataset's data.yaml ('' = render it in the app data)"}
    )

    def __post_init__(self) -> None:
        if self.labeler not in LABELERS:
            raise SettingsError(
                f"labeler must be one of {', '.join(LABELERS)}, got {self.labeler!r}"
            )
        if self.labeler == "import" and not self.import_dir:
            raise SettingsError("the import labeler needs a YOLO folder: give --import-dir")
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
        if self.freeze < 0 or self.warmup_epochs < 0:
            raise SettingsError("freeze and warmup_epochs must be 0 or more")
        if self.lr0 <= 0:
            raise SettingsError(f"lr0 must be above 0, got {self.lr0}")
        if not 0.0 < self.val_fraction < 1.0:
            raise SettingsError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

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
        default_factory=default_data_dir,
        metadata={"help": "where the database, models and captures live"},
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
    auto_approve: bool = field(
        default=False,
        metadata={"help": "queue a retraining for every drift alarm without asking the operator"},
    )
    retrain: RetrainSettings = field(
        default_factory=RetrainSettings,
        metadata={"help": "the [retrain] table: defaults of every retraining"},
    )

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser()
        self.model_path = Path(self.model_path).expanduser()
        self.traffic_model_path = Path(self.traffic_model_path).expanduser()
        if isinstance(self.retrain, dict):
            self.retrain = RetrainSettings.from_dict(self.retrain)
        if not isinstance(self.auto_approve, bool):
            raise SettingsError(f"auto_approve must be true or false, got {self.auto_approve!r}")
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
        if self.inference_threads < 1:
            raise SettingsError(
                f"inference_threads must be 1 or more, got {self.inference_threads}"
            )


def settings_path() -> Path:
    """The settings file: in the default data folder (a `data_dir` set inside it moves the
    database and models, not the file itself)."""
    return default_data_dir() / "settings.toml"


def load_settings(path: Path | None = None) -> Settings:
    """Defaults, overridden by the settings file if there is one."""
    path = path or settings_path()
    if not path.exists():
        return Settings()
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML ({exc}); fix or delete it") from exc
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
