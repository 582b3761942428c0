"""mAP of any detector on a YOLO-labelled image folder, matched the way Ultralytics' validator
matches, with AP from Ultralytics' own `ap_per_class`, so figures compare with `yolo val`'s.

The detector is a plain `detect(image) -> Detections` callable: our `OnnxDetector`, a
teacher, or a detector run with test-time augmentation. Classes are matched by name, so a
model cut to the traffic classes is measured on labels that use COCO-80 ids. mAP is the mean
over the classes present in the labels (as Ultralytics reports it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from tvdesk.core.detector import Detections
from tvdesk.core.detector.detections import box_iou
from tvdesk.training.offline import ultralytics_offline

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
VAL_CONF, VAL_IOU = 0.001, 0.7  # Ultralytics' validation thresholds
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}

Detect = Callable[[np.ndarray], Detections]


@dataclass(frozen=True)
class LabelledFolder:
    """A YOLO dataset split: its images, their label folder and the class names of the ids."""

    images: tuple[Path, ...]
    labels_dir: Path
    names: tuple[str, ...]

    @classmethod
    def from_yaml(cls, data_yaml: Path, split: str = "val") -> LabelledFolder:
        spec = yaml.safe_load(Path(data_yaml).read_text())
        root = Path(data_yaml).parent / str(spec.get("path", "."))
        images_dir = root / str(spec[split])
        labels_dir = root / str(spec[split]).replace("images", "labels", 1)
        names = spec["names"]
        if isinstance(names, dict):
            names = [names[i] for i in sorted(names)]
        images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return cls(tuple(images), labels_dir, tuple(names))

    def subset(self, images: Sequence[Path]) -> LabelledFolder:
        return LabelledFolder(tuple(images), self.labels_dir, self.names)

    def truth(self, image: Path, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """The image's labelled boxes (pixel xyxy) and class names' ids in `names`."""
        return read_yolo_labels(self.labels_dir / f"{image.stem}.txt", width, height)


@dataclass(frozen=True)
class Accuracy:
    """What `measure` found: mAP over the classes present, AP50 per class, and timing."""

    map50: float
    map50_95: float
    ap50: dict[str, float] = field(default_factory=dict)
    precision: float = 0.0  # at the detector's own threshold (all its boxes kept)
    recall: float = 0.0
    images: int = 0
    boxes: int = 0  # labelled boxes of the measured classes
    ms_per_image: float = 0.0

    def as_dict(self, digits: int = 4) -> dict:
        values = asdict(self)
        rounded = {k: round(v, digits) if isinstance(v, float) else v for k, v in values.items()}
        rounded["ap50"] = {k: round(v, digits) for k, v in self.ap50.items()}
        return rounded


def read_yolo_labels(path: Path, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """YOLO label lines (class cx cy w h, normalised) as pixel xyxy boxes and class ids."""
    rows = np.loadtxt(path, ndmin=2) if path.exists() and path.stat().st_size else np.zeros((0, 5))
    if not len(rows):
        return np.zeros((0, 4)), np.zeros(0, np.int64)
    cx, cy = rows[:, 1] * width, rows[:, 2] * height
    w, h = rows[:, 3] * width, rows[:, 4] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes, rows[:, 0].astype(np.int64)


def correct_matrix(
    truth_boxes: np.ndarray, truth_cls: np.ndarray, boxes: np.ndarray, classes: np.ndarray
) -> np.ndarray:
    """[detections, 10] booleans: a true positive at each IoU threshold (0.5 ... 0.95); each
    detection, best first, takes the best unclaimed label of its class."""
    correct = np.zeros((len(boxes), len(IOU_THRESHOLDS)), bool)
    if not len(truth_boxes) or not len(boxes):
        return correct
    iou = box_iou(truth_boxes, boxes) * (truth_cls[:, None] == classes[None, :])
    claimed = np.zeros((len(truth_boxes), len(IOU_THRESHOLDS)), bool)
    columns = np.arange(len(IOU_THRESHOLDS))
    for j in np.flatnonzero((iou >= IOU_THRESHOLDS[0]).any(axis=0)):
        available = np.where(claimed, 0.0, iou[:, j, None])
        best = available.argmax(axis=0)
        correct[j] = available[best, columns] >= IOU_THRESHOLDS
        claimed[best, columns] |= correct[j]
    return correct


def measure(
    detect: Detect,
    detector_names: Sequence[str],
    data: LabelledFolder,
    *,
    classes: Sequence[str] | None = None,
) -> Accuracy:
    """mAP of `detect` on `data`; `classes` limits both sides to these names (default: the
    detector's names that the labels also have). Detections are expected sorted best first."""
    wanted = set(classes or detector_names) & set(data.names) & set(detector_names)
    label_to_name = dict(enumerate(data.names))
    det_to_name = dict(enumerate(detector_names))
    ids = {name: i for i, name in enumerate(sorted(wanted))}
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    seconds = 0.0
    for image_path in data.images:
        image = cv2.imread(str(image_path))
        if image is None:
            raise ValueError(f"{image_path} is not a readable image")
        height, width = image.shape[:2]
        truth_boxes, truth_ids = data.truth(image_path, width, height)
        truth_cls = _remap(truth_ids, label_to_name, ids)
        began = time.perf_counter()
        found = detect(image)
        seconds += time.perf_counter() - began
        det_cls = _remap(found.class_ids, det_to_name, ids)
        keep_t, keep_d = truth_cls >= 0, det_cls >= 0
        correct = correct_matrix(
            truth_boxes[keep_t], truth_cls[keep_t], found.xyxy[keep_d], det_cls[keep_d]
        )
        rows.append((correct, found.scores[keep_d], det_cls[keep_d], truth_cls[keep_t]))
    return _summarise(rows, sorted(wanted), len(data.images), seconds)


def _remap(class_ids: np.ndarray, id_to_name: dict[int, str], ids: dict[str, int]) -> np.ndarray:
    return np.array([ids.get(id_to_name.get(int(c), ""), -1) for c in class_ids], np.int64)


def _summarise(rows: list, names: list[str], images: int, seconds: float) -> Accuracy:
    ultralytics_offline()
    from ultralytics.utils.metrics import ap_per_class

    correct = np.concatenate([r[0] for r in rows]) if rows else np.zeros((0, 10), bool)
    scores = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0)
    predicted = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0, np.int64)
    targets = np.concatenate([r[3] for r in rows]) if rows else np.zeros(0, np.int64)
    if not len(targets):
        return Accuracy(0.0, 0.0, images=images, ms_per_image=_ms(seconds, images))
    ap, present = ap_per_class(correct, scores, predicted, targets)[5:7]
    hits = int(correct[:, 0].sum())
    return Accuracy(
        map50=float(ap[:, 0].mean()),
        map50_95=float(ap.mean()),
        ap50={names[int(c)]: float(a) for c, a in zip(present, ap[:, 0], strict=True)},
        precision=hits / len(scores) if len(scores) else 0.0,
        recall=hits / len(targets),
        images=images,
        boxes=len(targets),
        ms_per_image=_ms(seconds, images),
    )


def _ms(seconds: float, images: int) -> float:
    return seconds / images * 1e3 if images else 0.0
