"""The base dataset of a real camera: its normal frames (kept while it learnt its baseline),
labelled by a labeler, split train/val and versioned with DVC.

A retraining of a real camera replays its train split against forgetting, and the gate
measures on its val split what the new model loses of the camera's normal view; the synthetic
world's base dataset is the synthetic camera's, never a real camera's. It is built once per
normal set and labeler, and again after the camera re-learns its normal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2

from tvdesk.core.session.cameras import camera_folder
from tvdesk.core.session.normal_frames import normal_images
from tvdesk.core.store import Camera
from tvdesk.core.synth.dataset import DatasetError, write_data_yaml
from tvdesk.retrain.dataset import APP_DATA_FOLDER, app_data_repo, version_dataset

logger = logging.getLogger(__name__)

CAMERAS_FOLDER = "cameras"
VAL_EVERY = 3  # every third normal frame is held out for the gate's check of the normal view
MIN_NORMAL_FRAMES = 6
SOURCE_FILE = "source.json"

LabelLines = Callable[[Path], Sequence[str]]  # an image -> its YOLO label lines


def camera_base_dataset(
    data_dir: Path,
    camera: Camera,
    names: Sequence[str],
    labels: LabelLines,
    labeler: str,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """The data.yaml of `camera`'s base dataset, labelled by `labels` (named `labeler`, with
    the model's class `names`); built and versioned on first need, reused while the camera's
    normal frames and the labeler stay the same."""
    images = normal_images(camera_folder(data_dir, camera))
    if len(images) < MIN_NORMAL_FRAMES:
        raise DatasetError(
            f"camera {camera.name!r} has {len(images)} normal frames, {MIN_NORMAL_FRAMES} "
            "are needed to check what a retraining forgets: let it play until it has learnt "
            f"its normal (`tvdesk cameras relearn {camera.name}` starts over)"
        )
    root = data_dir / APP_DATA_FOLDER / CAMERAS_FOLDER / f"camera-{camera.id}"
    source = {"labeler": labeler, "names": list(names), "images": _fingerprint(images)}
    if _is_built(root, source):
        return root / "data.yaml"
    app_data_repo(data_dir)
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for number, image in enumerate(images):
        split = "val" if number % VAL_EVERY == VAL_EVERY - 1 else "train"
        _write(staging, split, image, labels(image))
        if progress is not None:
            progress(number + 1, len(images))
    write_data_yaml(staging, list(names))
    (staging / SOURCE_FILE).write_text(json.dumps(source, indent=1) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    version_dataset(data_dir, root)
    logger.info("camera %s: base dataset of %d normal frames in %s", camera.name, len(images), root)
    return root / "data.yaml"


def _is_built(root: Path, source: dict) -> bool:
    try:
        return json.loads((root / SOURCE_FILE).read_text()) == source
    except (OSError, ValueError):
        return False


def _fingerprint(images: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for image in images:
        digest.update(f"{image.name}:{image.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def _write(root: Path, split: str, image: Path, lines: Sequence[str]) -> None:
    if cv2.imread(str(image)) is None:
        raise DatasetError(f"the normal frame {image} cannot be read: re-learn the camera's normal")
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image, root / "images" / split / image.name)
    text = "".join(f"{line}\n" for line in lines)
    (root / "labels" / split / f"{image.stem}.txt").write_text(text)
