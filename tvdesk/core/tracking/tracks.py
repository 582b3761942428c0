"""The tracker's result for one frame: the detections that belong to a track, with its id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


def _empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.zeros(shape, dtype)


@dataclass(frozen=True)
class Tracks:
    """Tracked boxes of one frame at stream time `t` (s); arrays are never modified.

    `class_ids` is each track's class by vote over its detections so far (a car seen once as
    a truck stays a car); `previous_xyxy` is each track's box at its detection before this
    one, even before it had an id (a line crossed on the frame that confirms a track still
    counts); `detection_index` points into the frame's `Detections`, so an overlay can label
    its boxes with their ids.
    """

    t: float
    xyxy: np.ndarray = field(default_factory=lambda: _empty((0, 4), np.float32))
    ids: np.ndarray = field(default_factory=lambda: _empty((0,), np.int64))
    class_ids: np.ndarray = field(default_factory=lambda: _empty((0,), np.int64))
    scores: np.ndarray = field(default_factory=lambda: _empty((0,), np.float32))
    previous_xyxy: np.ndarray = field(default_factory=lambda: _empty((0, 4), np.float32))
    detection_index: np.ndarray = field(default_factory=lambda: _empty((0,), np.int64))
    names: Sequence[str] = ()

    def __len__(self) -> int:
        return len(self.ids)

    def labels(self) -> list[str]:
        """The class name of each track."""
        return [class_name(self.names, int(c)) for c in self.class_ids]

    def anchors(self, anchor: str = "bottom-centre", previous: bool = False) -> np.ndarray:
        """The point of each box (or of its previous box) that lines and zones test, (n, 2)."""
        return anchor_points(self.previous_xyxy if previous else self.xyxy, anchor)


def anchor_points(xyxy: np.ndarray, anchor: str) -> np.ndarray:
    """The bottom-centre or centre of each box, shape (n, 2)."""
    x = (xyxy[:, 0] + xyxy[:, 2]) / 2.0
    if anchor == "bottom-centre":
        y = xyxy[:, 3]
    elif anchor == "centre":
        y = (xyxy[:, 1] + xyxy[:, 3]) / 2.0
    else:
        raise ValueError(f"anchor must be bottom-centre or centre, got {anchor!r}")
    return np.stack([x, y], axis=1).astype(np.float64)


def class_name(names: Sequence[str], class_id: int) -> str:
    """The name of a class id, or `class<N>` when the model has no name for it."""
    return names[class_id] if 0 <= class_id < len(names) else f"class{class_id}"
