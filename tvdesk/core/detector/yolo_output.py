"""Decode a raw YOLOv8/YOLO11 detection output and run class-aware NMS, as Ultralytics does.

The raw output is `[1, 4 + nc, N]`: per anchor a centre-xywh box in model input pixels and
one score per class. The steps and their float32 arithmetic mirror Ultralytics'
`non_max_suppression` with torchvision's NMS (stable score order, suppress when IoU > iou), so
the same file gives the same boxes here, without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_WH = 7680  # Ultralytics' per-class box offset that keeps NMS within one class
MAX_NMS = 30000  # at most this many boxes (best first) go into NMS
PAIRWISE_MAX = 512  # up to this many candidates, NMS computes all pairs at once (1 MB a matrix)
_NO_CLASSES = np.zeros(0, np.int64)


@dataclass(frozen=True)
class Candidates:
    """Boxes that passed the confidence threshold: xyxy in model input pixels."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    def take(self, index: np.ndarray) -> Candidates:
        return Candidates(self.xyxy[index], self.scores[index], self.class_ids[index])

    def __len__(self) -> int:
        return len(self.scores)


def select_candidates(
    raw: np.ndarray, num_classes: int, conf: float, classes: np.ndarray | None
) -> Candidates:
    """Best class per anchor, kept when its score > conf (and its class is in `classes`)."""
    output = raw[0]
    class_scores = output[4 : 4 + num_classes]
    if not class_scores.size or _no_score_above(class_scores, conf):
        return _no_candidates()
    best_scores = class_scores.max(axis=0)
    keep = np.flatnonzero(best_scores > conf)
    if not keep.size:
        return _no_candidates()
    class_ids = class_scores[:, keep].argmax(axis=0)
    scores = best_scores[keep]  # the maximum is the argmax's score, bit for bit
    if classes is not None:
        in_filter = np.isin(class_ids, classes)
        keep, class_ids, scores = keep[in_filter], class_ids[in_filter], scores[in_filter]
    xywh = output[:4, keep].T
    half_wh = xywh[:, 2:] / 2
    xyxy = np.concatenate((xywh[:, :2] - half_wh, xywh[:, :2] + half_wh), axis=1)
    return Candidates(xyxy, scores.astype(np.float32, copy=False), class_ids.astype(np.int64))


def _no_score_above(class_scores: np.ndarray, conf: float) -> bool:
    """True when every score is finite and none exceeds `conf`: the common empty frame,
    found by two compact OpenCV calls. Right after an inference the cache holds the model,
    not NumPy's reduction code, which costs four times as much to run cold. OpenCV's maximum
    is exact only without NaN, hence the range check first."""
    return cv2.checkRange(class_scores)[0] and cv2.minMaxLoc(class_scores)[1] <= conf


def _no_candidates() -> Candidates:
    return Candidates(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), _NO_CLASSES)


def drop_non_finite(candidates: Candidates) -> tuple[Candidates, int]:
    """Candidates without NaN/inf coordinates, and how many were dropped."""
    if cv2.checkRange(candidates.xyxy)[0]:  # the usual case, in one compact call
        return candidates, 0
    finite = np.isfinite(candidates.xyxy).all(axis=1)
    dropped = len(finite) - int(finite.sum())
    return (candidates.take(finite) if dropped else candidates), dropped


def class_aware_nms(candidates: Candidates, iou: float, max_det: int) -> Candidates:
    """Greedy NMS within each class; the survivors best first, at most `max_det` of them."""
    if len(candidates) <= 1:
        return candidates.take(slice(0, max_det))
    if len(candidates) > MAX_NMS:
        candidates = candidates.take(_best_first(candidates.scores)[:MAX_NMS])
    offset = candidates.class_ids.astype(np.float32)[:, None] * np.float32(MAX_WH)
    keep = greedy_nms(candidates.xyxy + offset, candidates.scores, iou)
    return candidates.take(keep[:max_det])


def greedy_nms(xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by torchvision's `nms`: highest score first, drop later boxes with IoU > iou."""
    order = _best_first(scores)
    x1, y1, x2, y2 = xyxy[order].T
    areas = (x2 - x1) * (y2 - y1)
    threshold = np.float64(iou)  # torchvision compares the float32 IoU with a double
    if len(order) <= PAIRWISE_MAX:
        return order[_greedy_pairwise(x1, y1, x2, y2, areas, threshold)]
    remaining = np.arange(len(order))
    kept = []
    while remaining.size:
        best, rest = remaining[0], remaining[1:]
        kept.append(best)
        width = np.maximum(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0)
        height = np.maximum(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0)
        inter = width * height
        with np.errstate(invalid="ignore", divide="ignore"):
            overlap = inter / (areas[best] + areas[rest] - inter)
        remaining = rest[~(overlap > threshold)]  # NaN (two empty boxes) never suppresses
    return order[np.array(kept, dtype=np.int64)]


def _greedy_pairwise(
    x1: np.ndarray,
    y1: np.ndarray,
    x2: np.ndarray,
    y2: np.ndarray,
    areas: np.ndarray,
    threshold: np.float64,
) -> np.ndarray:
    """`greedy_nms` on boxes sorted best first, every pair's IoU computed at once (the same
    float32 arithmetic, so the same boxes survive): one NumPy call per kept box instead of
    ten, which a frame's few hundred candidates spend most of their decode time on."""
    width = np.maximum(np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1), 0)
    height = np.maximum(np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1), 0)
    inter = width * height
    with np.errstate(invalid="ignore", divide="ignore"):
        suppresses = inter / (areas[:, None] + areas - inter) > threshold
    suppressed = np.zeros(len(x1), bool)
    kept = []
    for i in range(len(x1)):
        if not suppressed[i]:
            kept.append(i)
            suppressed |= suppresses[i]  # earlier boxes are decided already
    return np.array(kept, dtype=np.int64)


def _best_first(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score; ties keep their anchor order (a stable sort, as torch's)."""
    return np.argsort(-scores, kind="stable")
