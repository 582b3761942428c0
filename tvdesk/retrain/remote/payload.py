"""The payload of a remote retraining: what the training worker needs, as JSON and files.

The app builds it once its dataset stage is done, so the frames have been chosen and labelled
where they were captured (the review dialog, an imported export and the capture ring are all
on the app's machine) and the dataset, relit and replayed base images included, is the DVC
version the app recorded. The worker gets:

- `dataset/`: that dataset (images and YOLO labels of both splits);
- `base/`: the val split of the base data the gate measures forgetting on;
- `parent/model.pt`: the weights of the version the fine-tune starts from;
- the manifest: the job's settings, the parent's card, the camera's input size, the class
  names, the round and what the job's earlier rounds recorded (the round's training time and
  the gate's reference come from them), and every file's SHA-256. Names are relative: no path
  of the app's goes over.

It sends back the candidate as `model.pt`, `model.onnx` and `card.json`. Its int8 copy is made
on the app's machine once the version is live (`tvdesk.retrain.job_int8`): calibrated on the
camera's frames there, and timed on the CPU that plays it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from tvdesk.config import SettingsError, load_settings
from tvdesk.core.registry import CARD_NAME, ONNX_NAME, PT_NAME, pt_path
from tvdesk.core.session.cameras import input_size
from tvdesk.retrain.context import JobContext
from tvdesk.retrain.dataset import IMAGE_SUFFIXES

PROTOCOL = 2  # the manifest's format; a worker refuses any other (2: refinement rounds)
DATASET, BASE, PARENT = "dataset", "base", "parent"
RESULT_NAMES = {"pt": PT_NAME, "onnx": ONNX_NAME, "card": CARD_NAME}
APP_PATH_SETTINGS = ("base_data", "import_dir")  # app paths: the worker gets their names only


class IncompatibleJobError(ValueError):
    """A worker cannot run this manifest (another tvdesk's format); the message says so."""


@dataclass(frozen=True)
class Payload:
    manifest: dict[str, Any]
    files: dict[str, Path]  # name in the payload -> the file on the app's machine


def tvdesk_version() -> str:
    try:
        return version("tvdesk")
    except PackageNotFoundError:
        return "unknown"


def job_payload(ctx: JobContext) -> Payload:
    """What the worker needs to train, gate and export job `ctx` (after its dataset stage)."""
    r = ctx.result
    data_yaml, base_yaml = Path(r["data_yaml"]), Path(r["base_yaml"])
    parent = ctx.active_version()
    files = {
        **_split_files(data_yaml.parent, DATASET, ("train", "val")),
        **_split_files(base_yaml.parent, BASE, ("val",)),
        f"{PARENT}/{PT_NAME}": pt_path(parent),
    }
    card = parent.path.with_name(CARD_NAME)
    manifest = {
        "protocol": PROTOCOL,
        "tvdesk": tvdesk_version(),
        "job": {
            "id": ctx.id,
            "event_id": ctx.job.params["event_id"],
            "camera": _camera(ctx),
            "round": ctx.round,
            "rounds": r.get("rounds", []),
        },
        "settings": _shipped_settings(ctx),
        "parent": {
            "id": parent.id,
            "name": parent.name,
            "version": parent.version,
            "card": json.loads(card.read_text()) if card.exists() else {},
        },
        "names": _names(data_yaml),
        "data_md5": r["data_md5"],
    }
    return Payload(manifest, files)


def check_manifest(manifest: dict[str, Any]) -> None:
    """Raise IncompatibleJobError unless this tvdesk can run `manifest`."""
    from tvdesk.config import RetrainSettings

    theirs = f"tvdesk {manifest.get('tvdesk', 'unknown')} (job format {manifest.get('protocol')})"
    ours = f"tvdesk {tvdesk_version()} (job format {PROTOCOL})"
    if manifest.get("protocol") != PROTOCOL:
        raise IncompatibleJobError(
            f"this worker runs {ours} and cannot run a job from {theirs}: "
            "install the same tvdesk version on the app's machine and the training machine"
        )
    try:
        RetrainSettings.from_dict(manifest["settings"])
    except (SettingsError, KeyError, TypeError) as exc:
        raise IncompatibleJobError(
            f"this worker runs {ours} and cannot read the settings of a job from {theirs} "
            f"({exc}): install the same tvdesk version on both machines"
        ) from None


def lay_out(manifest: dict[str, Any], root: Path) -> dict[str, Any]:
    """Write the data.yaml files of the received dataset and base split under `root`; the
    job result the worker's stages start from."""
    names = dict(enumerate(manifest["names"]))
    splits = {DATASET: ("images/train", "images/val"), BASE: ("images/val", "images/val")}
    for folder, (train, val) in splits.items():
        content = {"train": train, "val": val, "names": names}
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "data.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    return {
        "data_yaml": str(root / DATASET / "data.yaml"),
        "base_yaml": str(root / BASE / "data.yaml"),
        "data_md5": manifest["data_md5"],
        "round": manifest["job"]["round"],
        "rounds": manifest["job"]["rounds"],
    }


def _split_files(root: Path, name: str, splits: tuple[str, ...]) -> dict[str, Path]:
    """Images and label files of `splits` under `root`, named `name/images/<split>/...`."""
    files = {}
    for split in splits:
        for kind in ("images", "labels"):
            folder = root / kind / split
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                if path.suffix.lower() in (*IMAGE_SUFFIXES, ".txt"):
                    files[f"{name}/{kind}/{split}/{path.name}"] = path
    return files


def _camera(ctx: JobContext) -> dict[str, Any]:
    """The camera as the worker needs it: its line, kind and the input size it runs at,
    resolved with the app's settings."""
    camera = ctx.camera()
    try:
        imgsz = input_size(camera, load_settings().traffic_imgsz)
    except SettingsError:
        imgsz = camera.detection.imgsz
    return {
        "id": camera.id,
        "name": camera.name,
        "kind": camera.kind,
        "line": camera.line,
        "imgsz": imgsz,
    }


def _shipped_settings(ctx: JobContext) -> dict[str, Any]:
    values = ctx.settings.as_dict()
    for key in APP_PATH_SETTINGS:
        values[key] = Path(values[key]).name if values[key] else ""
    return values


def _names(data_yaml: Path) -> list[str]:
    names = yaml.safe_load(data_yaml.read_text())["names"]
    if isinstance(names, dict):
        return [names[i] for i in sorted(names)]
    return list(names)
