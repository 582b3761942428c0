"""A live baseline: a stretch of normal video from the camera itself, learnt as a profile
with its own calibrated thresholds.

The operator marks the stretch (or tvdesk takes the first minutes). The baseline keeps the
frames' features in video order, so the calibration sees the stream's real dependence and
nuisance rather than pretending frames are independent.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from tvdesk.core.drift.calibration import MIN_ALLOWANCE, calibrate
from tvdesk.core.drift.features import FEATURES
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile, profile_from_features
from tvdesk.core.drift.sequential import BlockAverager

logger = logging.getLogger(__name__)

MIN_BASELINE_BLOCKS = 10
# A baseline vouches for what it saw: its centre and envelope are uncertain by about
# 1/sqrt(its length), so a short one needs wider allowances. A baseline of the default
# length (10 min) gets at least PRIOR_ALLOWANCE sigmas; one of 15 s about six times that.
PRIOR_ALLOWANCE = 3.0
PRIOR_SECONDS = 600.0


class BaselineRecorder:
    """Collects feature vectors and their times until `seconds` of stream time have passed."""

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"a baseline must last a positive time, got {seconds} s")
        self.seconds = seconds
        self._rows: list[np.ndarray] = []
        self._times: list[float] = []

    @property
    def elapsed(self) -> float:
        return self._times[-1] - self._times[0] if self._times else 0.0

    @property
    def complete(self) -> bool:
        return self.elapsed >= self.seconds

    def add(self, values: np.ndarray, timestamp: float) -> None:
        if np.isfinite(timestamp):
            self._rows.append(np.array(values, np.float64))
            self._times.append(float(timestamp))

    def profile(
        self, background: np.ndarray | None, false_alarms_per_day: float, block_seconds: float
    ) -> ReferenceProfile:
        """The baseline's profile, calibrated on its own blocks in video order."""
        return baseline_profile(
            np.array(self._rows).reshape(-1, len(FEATURES)),
            np.array(self._times),
            background,
            false_alarms_per_day,
            block_seconds,
        )


def baseline_profile(
    values: np.ndarray,
    times: np.ndarray,
    background: np.ndarray | None,
    false_alarms_per_day: float = 1.0,
    block_seconds: float = 1.0,
) -> ReferenceProfile:
    """Profile and thresholds from frames (frames, FEATURES) of normal video in video order."""
    source = f"baseline of {times[-1] - times[0]:.0f} s" if len(times) else "baseline"
    profile = profile_from_features(
        values, FEATURES, split_modes=False, background=background, source=source
    )
    blocks = block_deviations(profile, values, times, block_seconds)
    if len(blocks) < MIN_BASELINE_BLOCKS:
        raise ProfileError(
            f"a baseline needs at least {MIN_BASELINE_BLOCKS * block_seconds:.0f} "
            f"s of video; this one has {len(blocks) * block_seconds:.0f} s"
        )
    seconds = len(blocks) * block_seconds
    floor = max(MIN_ALLOWANCE, PRIOR_ALLOWANCE * math.sqrt(PRIOR_SECONDS / seconds))
    calibration = calibrate(
        [blocks], FEATURES, false_alarms_per_day, block_seconds, source=source, min_allowance=floor
    )
    logger.info("learnt a %s: %d frames, %d blocks", source, len(values), len(blocks))
    return profile.with_calibration(calibration)


def block_deviations(
    profile: ReferenceProfile, values: np.ndarray, times: np.ndarray, block_seconds: float = 1.0
) -> np.ndarray:
    """Robust deviations (blocks, features) of frames' block means from `profile`."""
    averager = BlockAverager(values.shape[1], block_seconds)
    blocks = [averager.add(v, t, i) for i, (v, t) in enumerate(zip(values, times, strict=True))]
    blocks.append(averager.flush())
    rows = [profile.deviations(b.mean)[0] for b in blocks if b is not None]
    return np.array(rows).reshape(-1, values.shape[1])
