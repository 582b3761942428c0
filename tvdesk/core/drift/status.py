"""What the drift monitor is told (`DriftConfig`) and what it says after each frame
(`DriftStatus`, an immutable snapshot that can cross threads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from tvdesk.core.drift.event import DriftEvent

LEARNING, WATCHING, ALARM = "learning", "watching", "alarm"


@dataclass(frozen=True)
class DriftConfig:
    """How the monitor behaves; the thresholds themselves come from the profile's calibration."""

    false_alarms_per_day: float = 1.0  # target when a baseline calibrates itself
    block_seconds: float = 1.0  # features are averaged over blocks of this much stream time
    settle_seconds: float = 30.0  # an alarm ends after its sums have been at zero this long
    background_seconds: float = 30.0  # stream time used to learn the camera's static edges
    baseline_seconds: float = 600.0  # length of a baseline when no profile is given
    recent_blocks: int = 5  # blocks averaged for a driver's deviation
    max_event_frames: int = 300  # frame indices an event lists for the retraining job
    sum_cap: float = 10.0  # CUSUM sums stop at this many thresholds (and so does severity)
    min_blocks: int = 3  # an alarm needs at least this many blocks beyond the allowance


@dataclass(frozen=True)
class DriftStatus:
    """A snapshot after one frame. Arrays follow `features` and are read-only.

    `statistic` is the signed CUSUM per feature (+ above the reference, - below; the side
    nearer its threshold), `threshold` that side's alarm level, `deviation` the last block's
    robust sigmas. `raised` and `ended` carry the event that this very frame raised or ended.
    `values` is this frame's own feature vector, as the monitor measured it (NaN where it
    could not), for whoever keeps the frame (the capture ring).
    """

    timestamp: float
    frame_index: int
    state: str
    features: tuple[str, ...]
    statistic: np.ndarray
    threshold: np.ndarray
    deviation: np.ndarray
    drivers: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    summary: str = ""
    raised: DriftEvent | None = None
    ended: DriftEvent | None = None
    learnt_seconds: float = 0.0  # while learning a baseline: how much of it is recorded
    baseline_seconds: float = 0.0  # ... and how much it needs
    values: np.ndarray | None = None

    @property
    def alarm(self) -> bool:
        return self.state == ALARM
