"""Stable track ids for detections: ByteTrack's two-stage association, solved with `lap`.

Each frame, every track's box is predicted to the frame's time; a detection that overlaps a
stronger one of another class is left out (the same vehicle boxed twice); detections at or
above `high_score` are matched to all tracks by IoU (boxes grown by `match_buffer`, more
when frames are detected further apart, as in C-BIoU, so fast vehicles still overlap; an
optimal assignment: `lap.lapjv`, the
Jonker-Volgenant solver the original ByteTrack uses), then the weaker detections to the
tracks still unmatched, so a vehicle whose score dips keeps its track. Unmatched strong
detections start tracks that get an id after `confirm_hits` detections; a track that misses
frames coasts for `max_lost_s` seconds before it is dropped. Why not a tracker library:
`trackers` (Roboflow's maintained ByteTrack) needs `supervision` and SciPy's
`linear_sum_assignment`, which load SciPy, Pillow and requests into the player and add about
210 MB to its installer part (PyAV, SciPy, Pillow), where `lap` adds 0.9 MB;
bench/counts.py counts with both on the same detections.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import lap
import numpy as np

from tvdesk.core.detector.detections import Detections, box_iou
from tvdesk.core.tracking.settings import TrackingSettings
from tvdesk.core.tracking.track_table import UNCONFIRMED, TrackTable
from tvdesk.core.tracking.tracks import Tracks

logger = logging.getLogger(__name__)

BUFFER_STEP_S = 0.1  # the buffer grows by `match_buffer` per 0.1 s between detected frames
MAX_BUFFER_STEPS = 3.0


class TrackSource(Protocol):
    """What counting needs of a tracker: `Tracks` for each detected frame, and a reset."""

    def update(self, detections: Detections, t: float) -> Tracks: ...

    def reset(self) -> None: ...


def buffered_iou(predicted: np.ndarray, shares: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of every track box (n, 4) with every detection (m, 4), both boxes of a pair grown
    on each side by the track's share (n,) of their width and height (C-BIoU's buffer)."""
    pad = (predicted[:, 2:] - predicted[:, :2]) * shares[:, None]
    a = np.concatenate([predicted[:, :2] - pad, predicted[:, 2:] + pad], axis=1)[:, None, :]
    pad = shares[:, None, None] * (boxes[:, 2:] - boxes[:, :2])[None, :, :]
    b = np.concatenate([boxes[None, :, :2] - pad, boxes[None, :, 2:] + pad], axis=2)
    inter = np.prod(
        np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0, None),
        axis=2,
    )
    area_a = np.prod(a[..., 2:] - a[..., :2], axis=2)
    area_b = np.prod(b[..., 2:] - b[..., :2], axis=2)
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def match_by_iou(
    predicted: np.ndarray, shares: np.ndarray, boxes: np.ndarray, min_iou: float
) -> tuple[np.ndarray, np.ndarray]:
    """The optimal one-to-one pairs (track row, box index) whose buffered IoU is at least
    `min_iou` (`lap.lapjv` on 1 - IoU)."""
    if len(predicted) == 0 or len(boxes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    iou = buffered_iou(predicted, shares, boxes)
    _, box_of_row, _ = lap.lapjv(1.0 - iou, extend_cost=True, cost_limit=1.0 - min_iou + 1e-9)
    rows = np.flatnonzero(box_of_row >= 0)
    cols = box_of_row[rows].astype(np.int64)
    good = iou[rows, cols] >= min_iou
    return rows[good], cols[good]


def duplicates(detections: Detections, min_iou: float) -> np.ndarray:
    """Which detections overlap a higher-scored one by `min_iou` or more: the same vehicle
    boxed as two classes (a detector's class-aware NMS keeps a lorry as both bus and truck)."""
    if len(detections) < 2 or min_iou >= 1.0:
        return np.zeros(len(detections), bool)
    iou = box_iou(detections.xyxy, detections.xyxy)
    stronger = detections.scores[None, :] > detections.scores[:, None]  # [i, j]: j beats i
    return ((iou >= min_iou) & stronger).any(axis=1)


class Tracker:
    """Gives every detection of a stream a stable id; `update` once per detected frame."""

    def __init__(self, settings: TrackingSettings | None = None) -> None:
        self.settings = settings or TrackingSettings()
        self._table = TrackTable.empty()
        self._next_id = 1
        self._last_t: float | None = None

    def reset(self) -> None:
        """Forget every track (a new source, a seek); ids go on from where they were."""
        self._table = TrackTable.empty()
        self._last_t = None

    def update(self, detections: Detections, t: float) -> Tracks:
        """Match the detections of the frame at stream time `t` (s) to the tracks."""
        if self._last_t is not None and t < self._last_t:
            logger.info(
                "stream time went back from %.3f to %.3f s: tracks restarted", self._last_t, t
            )
            self.reset()
        gap = BUFFER_STEP_S if self._last_t is None else t - self._last_t
        self._last_t = t
        table, s = self._table, self.settings
        boxes = detections.xyxy.astype(np.float64)
        scores = np.where(duplicates(detections, s.duplicate_iou), -1.0, detections.scores)
        shares = np.full(len(table), self._buffer(gap))
        rows, cols = self._associate(table.predicted(t), shares, boxes, scores)
        table.update(rows, boxes[cols], t, s.velocity_smoothing)
        table.vote(rows, detections.scores[cols], detections.class_ids[cols])
        new_rows, new_cols = self._start_tracks(detections, scores, cols, t)
        self._confirm()
        rows, cols = np.concatenate([rows, new_rows]), np.concatenate([cols, new_cols])
        result = self._tracks(detections, rows, cols, t)
        table.keep(
            (t - table.seen <= s.max_lost_s) & ((table.ids != UNCONFIRMED) | (table.seen == t))
        )
        return result

    def coasted(self, t: float, names: Sequence[str] = ()) -> Detections:
        """The tracks matched or started at the last update (confirmed or not), their boxes
        coasted to stream time `t` at their velocity: what a frame between two detected ones
        shows. Class: the track's vote; score: its summed score for that class over its
        detections, per detection."""
        table = self._table
        if self._last_t is None or not len(table):
            return Detections(names=names)
        fresh = table.seen == self._last_t
        classes = table.classes()[fresh]
        votes = table.votes[fresh][np.arange(len(classes)), classes]
        return Detections(
            table.predicted(t)[fresh].astype(np.float32),
            (votes / table.hits[fresh]).astype(np.float32),
            classes.astype(np.int64),
            names,
        )

    def _buffer(self, gap: float) -> float:
        """The match buffer for `gap` seconds since the last detected frame: `match_buffer`
        for each `BUFFER_STEP_S`, 1 to `MAX_BUFFER_STEPS` times (every k-th frame detected
        moves boxes k times further, and a new track's speed is not known yet)."""
        steps = min(max(gap / BUFFER_STEP_S, 1.0), MAX_BUFFER_STEPS)
        return self.settings.match_buffer * steps

    def _associate(
        self, predicted: np.ndarray, shares: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """ByteTrack's cascade: strong detections against every track, then weak ones against
        the tracks left over. Returns matched (track rows, detection indices)."""
        strong = np.flatnonzero(scores >= self.settings.high_score)
        weak = np.flatnonzero((scores >= 0) & (scores < self.settings.high_score))
        min_iou = self.settings.match_iou
        rows1, cols1 = match_by_iou(predicted, shares, boxes[strong], min_iou)
        left = np.setdiff1d(np.arange(len(predicted)), rows1)
        rows2, cols2 = match_by_iou(predicted[left], shares[left], boxes[weak], min_iou)
        rows = np.concatenate([rows1, left[rows2]])
        cols = np.concatenate([strong[cols1], weak[cols2]])
        return rows, cols

    def _start_tracks(
        self, detections: Detections, scores: np.ndarray, used: np.ndarray, t: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """A track for each unmatched detection strong enough; returns (rows, detections)."""
        fresh = scores >= self.settings.new_track_score
        fresh[used] = False
        cols = np.flatnonzero(fresh)
        first = len(self._table)
        boxes = detections.xyxy[cols].astype(np.float64)
        self._table.add(boxes, detections.scores[cols], detections.class_ids[cols], t)
        return np.arange(first, first + len(cols)), cols

    def _confirm(self) -> None:
        table = self._table
        ready = np.flatnonzero(
            (table.ids == UNCONFIRMED) & (table.hits >= self.settings.confirm_hits)
        )
        table.ids[ready] = np.arange(self._next_id, self._next_id + len(ready))
        self._next_id += len(ready)

    def _tracks(
        self, detections: Detections, rows: np.ndarray, cols: np.ndarray, t: float
    ) -> Tracks:
        """The matched detections that belong to confirmed tracks, in detection order."""
        table = self._table
        confirmed = table.ids[rows] != UNCONFIRMED
        rows, cols = rows[confirmed], cols[confirmed]
        order = np.argsort(cols)
        rows, cols = rows[order], cols[order]
        return Tracks(
            t=t,
            xyxy=detections.xyxy[cols],
            ids=table.ids[rows].copy(),
            class_ids=table.classes()[rows] if len(rows) else np.zeros(0, np.int64),
            scores=detections.scores[cols],
            previous_xyxy=table.previous[rows].astype(np.float32),
            detection_index=cols,
            names=detections.names,
        )
