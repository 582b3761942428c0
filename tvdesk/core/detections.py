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
