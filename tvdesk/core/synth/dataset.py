"""Write the synthetic world as a YOLO dataset (images/, labels/, data.yaml) for Ultralytics.

Every image has its own random stream derived from (seed, split, index), so a dataset is
byte-identical wherever and however often it is generated.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from tvdesk.core.synth.conditions import preset
from tvdesk.core.synth.geometry import RoadCamera
from tvdesk.core.synth.render import GroundTruth, SceneRenderer
from tvdesk.core.synth.vehicles import CLASS_NAMES, sample_traffic

logger = logging.getLogger(__name__)

JPEG_QUALITY = 92
SPLITS = ("train", "val")


@dataclass(frozen=True)
class DatasetSpec:
    """What to generate: conditions (cycled image by image), sizes, seed and frame size."""

    conditions: tuple[str, ...] = ("day",)
    train: int = 480
    val: int = 120
    seed: int = 0
    width: int = 640
    height: int = 360


class DatasetError(RuntimeError):
    """The dataset cannot be written or read; the message says what to do."""


def yolo_lines(truth: GroundTruth, width: int, height: int) -> list[str]:
    """Ground truth as YOLO label lines: class cx cy w h, normalised to the image size."""
    lines = []
    for (x1, y1, x2, y2), cls in zip(truth.boxes, truth.class_ids, strict=True):
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        w, h = (x2 - x1) / width, (y2 - y1) / height
        lines.append(f"{int(cls)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def write_data_yaml(root: Path, names: Sequence[str] = CLASS_NAMES) -> Path:
    """data.yaml without a `path` key, so Ultralytics resolves splits next to the file."""
    path = root / "data.yaml"
    content = {"train": "images/train", "val": "images/val", "names": dict(enumerate(names))}
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def write_dataset(
    root: Path, spec: DatasetSpec, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Render `spec` into `root`; returns the data.yaml path."""
    for name in spec.conditions:
        preset(name)  # fail on a bad name before writing anything
    _check_writable(root)
    renderer = SceneRenderer(RoadCamera().resized(spec.width, spec.height))
    total, done = spec.train + spec.val, 0
    for split_no, (split, count) in enumerate(zip(SPLITS, (spec.train, spec.val), strict=True)):
        images, labels = root / "images" / split, root / "labels" / split
        images.mkdir(parents=True, exist_ok=True)
        labels.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            condition = spec.conditions[i % len(spec.conditions)]
            rng = np.random.default_rng([spec.seed, split_no, i])
            frame = renderer.render(
                sample_traffic(rng, renderer.camera, float(rng.uniform(0.2, 1.0))),
                preset(condition).with_nuisance(rng),
                rng,
                t=float(rng.uniform(0, 600)),
            )
            stem = f"{condition}_{i:06d}"
            cv2.imwrite(
                str(images / f"{stem}.jpg"), frame.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            )
            lines = yolo_lines(frame.truth, spec.width, spec.height)
            (labels / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
            done += 1
            if progress:
                progress(done, total)
    logger.info("wrote %d images to %s", total, root)
    return write_data_yaml(root)


def _check_writable(root: Path) -> None:
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise DatasetError(f"cannot write to {root}: choose an output folder you can write to")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create {root}: {exc.strerror}; choose another folder") from exc


def count_images(root: Path) -> int:
    """Images under a YOLO dataset folder; raises a DatasetError when there are none."""
    exts = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
    n = sum(1 for p in root.rglob("*") if p.suffix.lower() in exts)
    if n == 0:
        raise DatasetError(
            f"{root} holds no images: point at a YOLO dataset folder "
            "(images/train, images/val, data.yaml)"
        )
    return n
