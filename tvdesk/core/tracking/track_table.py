"""The tracker's state: every live track as one row of numpy arrays, predicted all at once.

Motion is constant velocity, the velocity being a smoothed ratio of displacement to elapsed
stream time, so a frame rate change or detecting every k-th frame only changes the time step.
(OpenCV's `cv2.KalmanFilter` was measured at 30-45 us per predict and per correct for one
track on this machine: over 1 ms a frame at 20 tracks, the whole budget of tracking and
counting, while this table predicts every track in one numpy expression.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNCONFIRMED = -1


@dataclass
class TrackTable:
    """Rows of live tracks: last box, the box before it, velocity (px/s per coordinate), last
    seen, hits, id."""

    boxes: np.ndarray
    previous: np.ndarray
    velocity: np.ndarray
    seen: np.ndarray
    hits: np.ndarray
    ids: np.ndarray
    votes: np.ndarray  # summed detection score per class: the track's class is the argmax

    @classmethod
    def empty(cls, classes: int = 1) -> TrackTable:
        return cls(
            np.zeros((0, 4)),
            np.zeros((0, 4)),
            np.zeros((0, 4)),
            np.zeros(0),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros((0, classes)),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def predicted(self, t: float) -> np.ndarray:
        """Every track's box at time t, coasting at its velocity; never inverted."""
        boxes = self.boxes + self.velocity * (t - self.seen)[:, None]
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1.0)
        return boxes

    def update(self, rows: np.ndarray, boxes: np.ndarray, t: float, smoothing: float) -> None:
        """Rows `rows` were detected at `boxes` at time t: move them and learn their velocity
        (the first displacement as it is, later ones weighted by `smoothing`)."""
        dt = t - self.seen[rows]
        moving = dt > 0
        observed = (boxes - self.boxes[rows]) / np.where(moving, dt, 1.0)[:, None]
        weight = np.where(self.hits[rows] > 1, smoothing, 1.0)[:, None]
        blended = weight * observed + (1.0 - weight) * self.velocity[rows]
        self.velocity[rows] = np.where(moving[:, None], blended, self.velocity[rows])
        self.previous[rows] = self.boxes[rows]
        self.boxes[rows] = boxes
        self.seen[rows] = t
        self.hits[rows] += 1

    def vote(self, rows: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> None:
        """Add each detection's score to its track's tally of its class."""
        self._fit_classes(classes)
        np.add.at(self.votes, (rows, classes), scores)

    def add(self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, t: float) -> None:
        """New unconfirmed tracks, one per box, standing still until their second detection."""
        self._fit_classes(classes)
        n = len(boxes)
        votes = np.zeros((n, self.votes.shape[1]))
        votes[np.arange(n), classes] = scores
        self.boxes = np.concatenate([self.boxes, boxes])
        self.previous = np.concatenate([self.previous, boxes])
        self.velocity = np.concatenate([self.velocity, np.zeros((n, 4))])
        self.seen = np.concatenate([self.seen, np.full(n, t)])
        self.hits = np.concatenate([self.hits, np.ones(n, np.int64)])
        self.ids = np.concatenate([self.ids, np.full(n, UNCONFIRMED, np.int64)])
        self.votes = np.concatenate([self.votes, votes])

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where `mask` is False."""
        for name in ("boxes", "previous", "velocity", "seen", "hits", "ids", "votes"):
            setattr(self, name, getattr(self, name)[mask])

    def classes(self) -> np.ndarray:
        return np.argmax(self.votes, axis=1) if len(self) else np.zeros(0, np.int64)

    def _fit_classes(self, classes: np.ndarray) -> None:
        needed = int(classes.max()) + 1 if len(classes) else 0
        if needed > self.votes.shape[1]:
            extra = np.zeros((len(self), needed - self.votes.shape[1]))
            self.votes = np.concatenate([self.votes, extra], axis=1)
