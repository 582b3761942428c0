"""The sequential test: frame features averaged over blocks of stream time, then a two-sided
CUSUM per feature on the blocks' robust deviations from the reference.

Consecutive video frames are nearly identical, so they are never treated as independent
samples: the test sees one value per block and its thresholds are calibrated on whole
streams in video order (see `calibration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def nanmean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean ignoring NaN; NaN (without a warning) where a column has no value at all."""
    values = np.asarray(values, np.float64)
    valid = np.isfinite(values)
    count = valid.sum(axis=axis)
    total = np.where(valid, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass(frozen=True)
class Block:
    """The mean feature vector of one block of stream time and the frames it covers."""

    start: float  # stream time (s) of the block's first frame
    end: float  # stream time (s) of its last frame
    mean: np.ndarray  # NaN where no frame of the block measured the feature
    first_frame: int
    last_frame: int


class BlockAverager:
    """Collects frame feature vectors and hands back the finished block when one closes.

    A block is `seconds` of stream time; a frame whose timestamp falls in another block
    (later, or earlier after a seek) closes the current one. Non-finite timestamps count as
    the last good one. NaN features are left out of the mean.
    """

    def __init__(self, n_features: int, seconds: float = 1.0) -> None:
        if not seconds > 0:
            raise ValueError(f"a block must last a positive time, got {seconds} s")
        self.seconds = seconds
        self._sum = np.zeros(n_features)
        self._count = np.zeros(n_features, np.int64)
        self._slot: int | None = None
        self._start = self._end = 0.0
        self._first = self._last = 0
        self._last_time = 0.0

    def add(self, values: np.ndarray, timestamp: float, frame_index: int) -> Block | None:
        """Add one frame; returns the block that this frame closed, if any."""
        if not math.isfinite(timestamp):
            timestamp = self._last_time
        self._last_time = timestamp
        slot = math.floor(timestamp / self.seconds)
        finished = self.flush() if self._slot is not None and slot != self._slot else None
        if self._slot is None:
            self._slot, self._start, self._first = slot, timestamp, frame_index
        valid = np.isfinite(values)
        np.add(self._sum, values, out=self._sum, where=valid)
        self._count += valid
        self._end, self._last = timestamp, frame_index
        return finished

    def flush(self) -> Block | None:
        """Close the current block now (end of stream); None if it holds no frame."""
        if self._slot is None:
            return None
        mean = np.where(self._count > 0, self._sum / np.maximum(self._count, 1), np.nan)
        block = Block(self._start, self._end, mean, self._first, self._last)
        self._sum[:] = 0.0
        self._count[:] = 0
        self._slot = None
        return block


class Cusum:
    """Two one-sided CUSUMs per feature: S+ = max(0, S+ + z - k_above) and
    S- = max(0, S- - z - k_below), each with its own threshold.

    `allowance` and `threshold` are (features, 2) arrays, columns (below, above), in robust
    sigmas. A NaN deviation leaves that feature's sums untouched. One block adds at most
    1/`min_blocks` of the threshold, so an alarm needs at least `min_blocks` blocks beyond
    the allowance however extreme one of them is (a truck filling the view, a glitch). The
    sums are capped at `cap` thresholds so that a long alarm does not take as long to wind
    down.
    """

    def __init__(
        self, allowance: np.ndarray, threshold: np.ndarray, cap: float = 10.0, min_blocks: int = 1
    ) -> None:
        self.allowance = np.asarray(allowance, np.float64).reshape(-1, 2)
        self.threshold = np.asarray(threshold, np.float64).reshape(-1, 2)
        if self.allowance.shape != self.threshold.shape:
            raise ValueError("allowance and threshold need one (below, above) pair per feature")
        self.cap = cap
        self._step = self.threshold / max(min_blocks, 1)
        n = len(self.threshold)
        self.upper, self.lower = np.zeros(n), np.zeros(n)
        self._rise_upper = np.zeros(n, np.int64)  # block at which each sum last left zero
        self._rise_lower = np.zeros(n, np.int64)
        self.blocks = 0

    def update(self, z: np.ndarray) -> None:
        valid = np.isfinite(z)
        z = np.where(valid, z, 0.0)
        below, above = self.allowance[:, 0], self.allowance[:, 1]
        rise, fall = (
            np.minimum(z - above, self._step[:, 1]),
            np.minimum(-z - below, self._step[:, 0]),
        )
        upper = np.minimum(np.maximum(self.upper + rise, 0.0), self.cap * self.threshold[:, 1])
        lower = np.minimum(np.maximum(self.lower + fall, 0.0), self.cap * self.threshold[:, 0])
        upper, lower = np.where(valid, upper, self.upper), np.where(valid, lower, self.lower)
        self._rise_upper[(self.upper == 0) & (upper > 0)] = self.blocks
        self._rise_lower[(self.lower == 0) & (lower > 0)] = self.blocks
        self.upper, self.lower = upper, lower
        self.blocks += 1

    @property
    def _ratios(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.upper / self.threshold[:, 1], self.lower / self.threshold[:, 0]

    @property
    def ratio(self) -> np.ndarray:
        """Sum / threshold of each feature's leading side: 1 or more is beyond it."""
        return np.maximum(*self._ratios)

    @property
    def statistic(self) -> np.ndarray:
        """Signed sum per feature: +S+ or -S-, whichever side is nearer its threshold."""
        up, down = self._ratios
        return np.where(up >= down, self.upper, -self.lower)

    @property
    def side_threshold(self) -> np.ndarray:
        """The threshold of the side that `statistic` shows."""
        up, down = self._ratios
        return np.where(up >= down, self.threshold[:, 1], self.threshold[:, 0])

    def rise_block(self, feature: int) -> int:
        """The block at which the leading side of `feature` last left zero: the change point."""
        up, down = self._ratios
        if up[feature] >= down[feature]:
            return int(self._rise_upper[feature])
        return int(self._rise_lower[feature])

    @property
    def quiet(self) -> bool:
        """Whether every sum is at zero: nothing is accumulating evidence of a change."""
        return not (self.upper.any() or self.lower.any())

    def reset(self) -> None:
        self.upper[:] = 0.0
        self.lower[:] = 0.0
