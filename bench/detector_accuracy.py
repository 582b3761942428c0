"""mAP50 of our detector on a synthetic YOLO val set, letterboxed rectangularly and square.

Predictions are matched to the exact synthetic labels the way Ultralytics' validator does
(each detection, best first, takes the best unclaimed label of its class), and AP comes from
Ultralytics' own `ap_per_class`, so the figures are comparable with `yolo val`'s. Validation
settings as Ultralytics': conf 0.001, IoU 0.7, at most 300 boxes.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.detections import box_iou

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
VAL_CONF, VAL_IOU = 0.001, 0.7


def read_labels(path: Path, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """YOLO label lines (class cx cy w h, normalised) as pixel xyxy boxes and class ids."""
    rows = np.loadtxt(path, ndmin=2) if path.exists() else np.zeros((0, 5))
    if not len(rows):
        return np.zeros((0, 4)), np.zeros(0, np.int64)
    cx, cy, w, h = rows[:, 1] * width, rows[:, 2] * height, rows[:, 3] * width, rows[:, 4] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes, rows[:, 0].astype(np.int64)


def correct_matrix(truth_boxes, truth_cls, boxes, classes) -> np.ndarray:
    """[detections, 10] booleans: true positive at each IoU threshold (0.5 ... 0.95)."""
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


def evaluate(detector: OnnxDetector, images: list[Path], labels_dir: Path) -> dict[str, float]:
    from ultralytics.utils.metrics import ap_per_class

    correct, scores, predicted, targets, seconds = [], [], [], [], 0.0
    for image_path in images:
        frame = cv2.imread(str(image_path))
        height, width = frame.shape[:2]
        truth_boxes, truth_cls = read_labels(labels_dir / f"{image_path.stem}.txt", width, height)
        began = time.perf_counter()
        detections = detector.detect(frame)
        seconds += time.perf_counter() - began
        correct.append(
            correct_matrix(truth_boxes, truth_cls, detections.xyxy, detections.class_ids)
        )
        scores.append(detections.scores)
        predicted.append(detections.class_ids)
        targets.append(truth_cls)
    ap = ap_per_class(
        np.concatenate(correct),
        np.concatenate(scores),
        np.concatenate(predicted),
        np.concatenate(targets),
    )[5]
    return {
        "map50": float(ap[:, 0].mean()),
        "map50_95": float(ap.mean()),
        "ms_per_image": seconds / len(images) * 1e3,
        "input": "x".join(map(str, detector.prepare(frame).shape[2:][::-1])),
    }


def rect_vs_square_map(model: Path, data_yaml: Path) -> dict:
    """mAP50 (and mAP50-95) on the set's val split with both letterboxes."""
    spec = yaml.safe_load(data_yaml.read_text())
    images_dir = data_yaml.parent / spec["val"]
    labels_dir = data_yaml.parent / str(spec["val"]).replace("images", "labels", 1)
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    result: dict = {"data": str(data_yaml), "model": model.name, "images": len(images)}
    for mode, rect in (("rect", True), ("square", False)):
        detector = OnnxDetector(model, conf=VAL_CONF, iou=VAL_IOU, rect=rect)
        result[mode] = evaluate(detector, images, labels_dir)
    return result
