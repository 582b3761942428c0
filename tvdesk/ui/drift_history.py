"""What the drift dashboard draws: a bounded history of drift snapshots and detection figures.

Fed from the GUI thread with each frame result the window receives (older results may have
been skipped: every figure here is a level, not a count of events); read by the dashboard's
redraw timer. Plain numpy, no Qt: ring buffers of a fixed length, so memory never grows.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift.status import ALARM, DriftStatus

DEFAULT_SECONDS = 300.0  # how much history the charts keep
MAX_POINTS = 3000  # ...and at most this many samples of it
LIVE_VALUES = 240  # samples of the top feature's live values for its distribution


@dataclass(frozen=True)
class AlarmSpan:
    """An alarm as the charts saw it: from `start` to `end` (history seconds; None: holding)."""

    start: float
    end: float | None
    summary: str


class DriftHistory:
    """Ring buffers over history time (seconds since the history began)."""

    def __init__(self, seconds: float = DEFAULT_SECONDS, max_points: int = MAX_POINTS) -> None:
        self.seconds = seconds
        self._t0 = time.monotonic()
        self.times: deque[float] = deque(maxlen=max_points)
        self.ratios: deque[np.ndarray] = deque(maxlen=max_points)
        self.counts: deque[float] = deque(maxlen=max_points)
        self.confidences: deque[float] = deque(maxlen=max_points)
        self.alarms: deque[AlarmSpan] = deque(maxlen=50)
        self.live_values: deque[float] = deque(maxlen=LIVE_VALUES)
        self.features: tuple[str, ...] = ()
        self.latest: DriftStatus | None = None
        self.revision = 0  # bumped on every frame, so a redraw can tell there is nothing new
        self.live_revision = 0  # bumped on every live value

    def now(self) -> float:
        return time.monotonic() - self._t0

    def add(self, status: DriftStatus | None, detections: Detections) -> None:
        """One frame result: its drift snapshot (None without a monitor) and its boxes."""
        t = self.now()
        self.times.append(t)
        self.counts.append(float(len(detections)))
        scores = detections.scores
        self.confidences.append(float(scores.mean()) if len(scores) else np.nan)
        if status is None:
            self.ratios.append(np.full(len(self.features), np.nan))
        else:
            self._add_status(status, t)
        self.revision += 1

    def _add_status(self, status: DriftStatus, t: float) -> None:
        if status.features != self.features:
            self.features = status.features
            self.ratios.clear()
            self.ratios.extend(
                np.full(len(self.features), np.nan) for _ in range(len(self.times) - 1)
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(
                np.isfinite(status.threshold), status.statistic / status.threshold, 0.0
            )
        self.ratios.append(ratio)
        holding = bool(self.alarms) and self.alarms[-1].end is None
        if status.state == ALARM and not holding:
            self.alarms.append(AlarmSpan(t, None, status.summary))
        elif status.state != ALARM and holding:
            last = self.alarms.pop()
            self.alarms.append(AlarmSpan(last.start, t, last.summary))
        self.latest = status

    def add_live_value(self, value: float) -> None:
        """A live measurement of the top feature (sampled by the dashboard)."""
        if np.isfinite(value):
            self.live_values.append(float(value))
            self.live_revision += 1

    def clear_live_values(self) -> None:
        self.live_values.clear()
        self.live_revision += 1

    # -- what the charts read ----------------------------------------------------------------

    def window(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(times, ratios (n, features), counts, mean confidences) of the last `seconds`."""
        times = np.fromiter(self.times, float, len(self.times))
        keep = times >= times[-1] - self.seconds if len(times) else np.zeros(0, bool)
        ratios = (
            np.array(self.ratios)[keep]
            if len(self.ratios) == len(times) and len(self.features)
            else np.zeros((int(keep.sum()), len(self.features)))
        )
        counts = np.fromiter(self.counts, float, len(self.counts))[keep]
        confidences = np.fromiter(self.confidences, float, len(self.confidences))[keep]
        return times[keep], ratios, counts, confidences

    def top_features(self, count: int) -> list[int]:
        """Indices of the features nearest their threshold now (drivers first in an alarm)."""
        status = self.latest
        if status is None or not len(self.ratios):
            return []
        if status.drivers:
            named = [self.features.index(n) for n in status.drivers if n in self.features]
        else:
            named = []
        nearest = np.argsort(-np.abs(np.nan_to_num(self.ratios[-1])))
        ranked = named + [int(j) for j in nearest if int(j) not in named]
        return ranked[:count]

    def top_feature(self) -> str | None:
        top = self.top_features(1)
        return self.features[top[0]] if top else None
