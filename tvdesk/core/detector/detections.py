"""The one detection result type that the detector produces and everything downstream consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Boxes of one frame: xyxy float32 in frame pixels, scores, class ids, and the class names.

    Arrays are never modified after creation; filter with `select` to get a new instance.
    """

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    class_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    names: Sequence[str] = ()

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, mask: np.ndarray) -> Detections:
        return Detections(self.xyxy[mask], self.scores[mask], self.class_ids[mask], self.names)

    def labels(self) -> list[str]:
        return [
            self.names[int(c)] if 0 <= c < len(self.names) else f"class{int(c)}"
            for c in self.class_ids
        ]

    def counts_by_name(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for label in self.labels():
            counts[label] = counts.get(label, 0) + 1
        return counts


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every xyxy box in `a` with every one in `b`: shape (len(a), len(b))."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def match_boxes(
    boxes_a: np.ndarray,
    classes_a: np.ndarray,
    boxes_b: np.ndarray,
    classes_b: np.ndarray,
    min_iou: float,
) -> list[tuple[int, int]]:
    """Greedy one-to-one matches (index in a, index in b), best IoU first."""
    if len(boxes_a) == 0 or len(boxes_b) == 0:
        return []
    ious = box_iou(boxes_a, boxes_b)
    ious[classes_a[:, None] != classes_b[None, :]] = 0.0
    pairs, used_a, used_b = [], set(), set()
    for flat in np.argsort(-ious, axis=None):
        i, j = np.unravel_index(flat, ious.shape)
        if ious[i, j] < min_iou:
            break
        if i not in used_a and j not in used_b:
            pairs.append((int(i), int(j)))
            used_a.add(i)
            used_b.add(j)
    return pairs
