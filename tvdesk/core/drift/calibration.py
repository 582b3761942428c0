"""Thresholds for the CUSUM, calibrated on in-distribution streams in video order.

Each feature has two one-sided CUSUMs (below and above the reference), each with its own
allowance k and threshold h in robust sigmas. k is an in-distribution envelope of that
side's block deviations (a high quantile), so slow harmless nuisance such as clouds does not
accumulate; of a few envelopes, the one that detects a shift of `REFERENCE_SHIFT` sigmas
soonest is taken. Each CUSUM excursion (from zero back to zero) has a peak; a false alarm at
threshold h is an excursion that peaks above h. h for a rate r is read from the peaks'
empirical tail, extrapolated exponentially (CUSUM peaks have an exponential tail) beyond
the highest peak seen. One r is chosen for all sides of all features so that their alarms
together (overlapping ones merged) come `false_alarms_per_day` times a day. When the streams
are too short to show that many alarms, the budget is split evenly instead (Bonferroni),
which can only be conservative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SECONDS_PER_DAY = 86400.0
ALLOWANCE_QUANTILES = (0.99, 0.999, 0.9999)  # candidates for k, quantiles in-distribution
REFERENCE_SHIFT = 10.0  # robust sigmas: k is chosen for the fastest detection of this shift
MIN_ALLOWANCE = 1.0  # robust sigmas: a frame-sized deviation is never evidence by itself
MIN_THRESHOLD = 3.0  # robust sigmas: never alarm on less accumulated evidence than this
MIN_TAIL_SCALE = 0.5  # smallest exponential scale of the peak tail (few excursions seen)
TAIL_PEAKS = 50  # how many of the highest peaks the extrapolation is fitted to
MIN_FAMILY_ALARMS = 10  # alarms the streams must show before the joint rate is trusted
SIDES = ("below", "above")


@dataclass(frozen=True)
class Calibration:
    """Allowance k and threshold h per feature and side, (below, above), in robust sigmas,
    and what they were fitted on. A feature missing from `threshold` is not tested."""

    allowance: dict[str, tuple[float, float]]
    threshold: dict[str, tuple[float, float]]
    false_alarms_per_day: float
    block_seconds: float
    hours: float  # in-distribution video the thresholds were fitted on
    source: str = ""
    method: str = ""  # "joint" or "bonferroni": how the budget was shared

    def to_dict(self) -> dict:
        return {
            "allowance": {k: list(v) for k, v in self.allowance.items()},
            "threshold": {k: list(v) for k, v in self.threshold.items()},
            "false_alarms_per_day": self.false_alarms_per_day,
            "block_seconds": self.block_seconds,
            "hours": self.hours,
            "source": self.source,
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        def pairs(values: dict) -> dict[str, tuple[float, float]]:
            return {k: (float(v[0]), float(v[1])) for k, v in values.items()}

        return cls(
            pairs(data["allowance"]),
            pairs(data["threshold"]),
            float(data["false_alarms_per_day"]),
            float(data["block_seconds"]),
            float(data["hours"]),
            str(data.get("source", "")),
            str(data.get("method", "")),
        )

    def arrays(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """k and h as (features, 2) arrays in the order of `names`, columns (below, above);
        h is +inf for a feature that is not tested."""
        untested = (MIN_ALLOWANCE, MIN_ALLOWANCE)
        k = np.array([self.allowance.get(n, untested) for n in names], np.float64)
        h = np.array([self.threshold.get(n, (math.inf, math.inf)) for n in names], np.float64)
        return k.reshape(-1, 2), h.reshape(-1, 2)


@dataclass(frozen=True)
class Excursions:
    """The excursions of one one-sided CUSUM over all streams."""

    stream: np.ndarray
    start: np.ndarray  # first block of the excursion
    end: np.ndarray  # last block
    peak: np.ndarray


def cusum_path(z: np.ndarray, allowance: float) -> np.ndarray:
    """S_t = max(0, S_t-1 + z_t - k), the upper side (the lower side is the path of -z); a
    NaN block leaves S unchanged, as in the monitor."""
    return _lindley(np.where(np.isfinite(z), z - allowance, 0.0))


def _lindley(steps: np.ndarray) -> np.ndarray:
    """max(0, S + step) run over `steps`, without a Python loop: the walk minus its running
    minimum (S_0 = 0)."""
    walk = np.concatenate([[0.0], np.cumsum(steps)])
    return (walk - np.minimum.accumulate(walk))[1:]


def excursions(streams: Sequence[np.ndarray], allowance: float) -> Excursions:
    """Every excursion of the upper CUSUM of each stream (pass -z for the lower side).

    The streams are run as one, with a fall between them that empties the sum, so that no
    excursion spans two streams.
    """
    lengths = np.array([len(z) for z in streams])
    offsets = np.concatenate([[0], np.cumsum(lengths + 1)])
    z = np.concatenate([part for s in streams for part in (np.asarray(s, np.float64), [0.0])])
    steps = np.where(np.isfinite(z), z - allowance, 0.0)
    steps[offsets[1:] - 1] = -(np.abs(steps).sum() + 1.0)  # deep enough to empty any sum
    path = _lindley(steps)
    edges = np.diff(np.concatenate([[False], path > 0, [False]]).astype(np.int8))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    stream = np.searchsorted(offsets, starts, side="right") - 1
    peaks = np.maximum.reduceat(path, starts) if starts.size else np.zeros(0)
    return Excursions(stream, starts - offsets[stream], stops - 1 - offsets[stream], peaks)


def tail_threshold(peaks: np.ndarray, days: float, rate_per_day: float) -> float:
    """The h that excursions peak above `rate_per_day` times a day."""
    top = np.sort(peaks)[::-1]
    wanted = rate_per_day * days  # how many peaks may lie above h
    if wanted >= 1.0 and top.size > wanted:
        i = math.floor(wanted)  # h between the i-th and (i+1)-th highest peaks
        h = top[i - 1] + (top[i] - top[i - 1]) * (wanted - i)
        return max(float(h), MIN_THRESHOLD)
    tail = top[:TAIL_PEAKS]
    if tail.size == 0:
        level, scale, rate = 0.0, MIN_TAIL_SCALE, 1.0 / days
    else:
        level = float(tail[-1])
        scale = max(float(np.mean(tail[:-1] - level)) if tail.size > 1 else 0.0, MIN_TAIL_SCALE)
        rate = tail.size / days
    h = level + scale * math.log(rate / rate_per_day) if rate > rate_per_day else level
    return max(h, MIN_THRESHOLD)


def joint_alarms(
    found: Sequence[Excursions], thresholds: Sequence[float], settle_blocks: int
) -> int:
    """Alarms of all channels together: excursions above their threshold, merged when they
    overlap or follow within `settle_blocks` (the alarm would still be holding)."""
    above = [exc.peak > h for exc, h in zip(found, thresholds, strict=True)]
    if not any(a.any() for a in above):
        return 0
    span = 1.0 + max(float(e.end.max(initial=0)) for e in found) + 2 * (settle_blocks + 1)
    pairs = zip(found, above, strict=True)
    start = np.concatenate([e.stream[a] * span + e.start[a] for e, a in pairs])
    end = np.concatenate([e.stream[a] * span + e.end[a] for e, a in zip(found, above, strict=True)])
    order = np.argsort(start, kind="stable")
    start, reach = start[order], np.maximum.accumulate(end[order])
    return 1 + int(np.count_nonzero(start[1:] > reach[:-1] + settle_blocks))


def calibrate(
    streams: Sequence[np.ndarray],
    names: Sequence[str],
    false_alarms_per_day: float = 1.0,
    block_seconds: float = 1.0,
    settle_blocks: int = 30,
    source: str = "",
    min_allowance: float = MIN_ALLOWANCE,
) -> Calibration:
    """Fit k and h per feature and side on in-distribution block deviations z, one (T, F)
    array per stream in video order, for `false_alarms_per_day` alarms a day in all; no k
    is below `min_allowance`."""
    if not false_alarms_per_day > 0:
        raise ValueError(f"the false-alarm target must be positive, got {false_alarms_per_day}")
    streams = [np.asarray(s, np.float64).reshape(len(s), len(names)) for s in streams]
    blocks = sum(len(s) for s in streams)
    if blocks == 0:
        raise ValueError("calibration needs at least one block of in-distribution video")
    days = blocks * block_seconds / SECONDS_PER_DAY
    tested = [j for j in range(len(names)) if any(np.isfinite(s[:, j]).any() for s in streams)]
    budget = false_alarms_per_day / max(2 * len(tested), 1)
    channels = [(j, side) for j in tested for side in (-1.0, 1.0)]
    fitted = [
        _allowance([side * s[:, j] for s in streams], days, budget, min_allowance)
        for j, side in channels
    ]
    found = [exc for _, exc in fitted]
    rate, method = _shared_rate(found, days, false_alarms_per_day, settle_blocks)
    h = [tail_threshold(exc.peak, days, rate) for exc in found]
    allowance = {names[j]: (fitted[2 * i][0], fitted[2 * i + 1][0]) for i, j in enumerate(tested)}
    threshold = {names[j]: (h[2 * i], h[2 * i + 1]) for i, j in enumerate(tested)}
    return Calibration(
        allowance,
        threshold,
        false_alarms_per_day,
        block_seconds,
        hours=days * 24.0,
        source=source,
        method=method,
    )


def _allowance(
    streams: Sequence[np.ndarray], days: float, rate: float, floor: float
) -> tuple[float, Excursions]:
    """The envelope k (and its excursions) that detects `REFERENCE_SHIFT` soonest at `rate`."""
    z = np.concatenate(streams)
    envelopes = np.quantile(z[np.isfinite(z)], ALLOWANCE_QUANTILES)
    best = None
    for envelope in envelopes:
        k = max(float(envelope), floor)
        exc = excursions(streams, k)
        delay = tail_threshold(exc.peak, days, rate) / max(REFERENCE_SHIFT - k, 1e-9)
        if best is None or delay < best[0]:
            best = (delay, k, exc)
    return best[1], best[2]


def _shared_rate(
    found: Sequence[Excursions], days: float, target: float, settle_blocks: int
) -> tuple[float, str]:
    """The per-channel rate whose joint alarms come `target` times a day."""
    low, high = target / max(len(found), 1), target

    def joint(rate: float) -> float:
        hs = [tail_threshold(exc.peak, days, rate) for exc in found]
        return joint_alarms(found, hs, settle_blocks) / days

    if target * days < MIN_FAMILY_ALARMS:
        return low, "bonferroni"
    while joint(low) > target and low > 1e-6 * target:  # correlated bursts: go below it
        low, high = low / 4.0, low
    if joint(high) <= target:
        return high, "joint"
    for _ in range(30):  # bisection on log rate
        middle = math.sqrt(low * high)
        low, high = (middle, high) if joint(middle) <= target else (low, middle)
    return low, "joint"
