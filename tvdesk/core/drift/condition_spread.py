"""A condition's spread measured on its own stream.

A mode learnt from a retraining's frames (the 20-odd seconds of night that round 1 trained
on) states the condition's centre well and its spread badly: a night's highlights and the
sharpness near the road move with the headlights in view, which a short stretch does not
show. The thresholds a new version inherits were calibrated on streams of the old normal,
so a stretch of dense traffic a few minutes later reads as drift (measured on the demo
world: "highlights +2σ" 402 s after a night version went live, "sharpness (bottom
centre-right) +4σ" 35 s after one whose night came from 25 s of frames).

The camera's capture ring holds minutes of the condition in stream order. Averaged over
the test's blocks and compared with the mode they are nearest to, those frames show how far
the condition's own blocks stray, and their tail how far they will stray over the next
quarter of an hour; where that is beyond the calibrated allowance, the mode's scale is widened
until it is not (measured on the demo world's night, the tail read off 200 s of blocks: the
0.999 quantile of highlights 3.15σ, where the next 11 minutes' largest block was 4.56σ and
the blocks' own 0.99 quantile 2.11σ).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from tvdesk.core.drift.calibration import Calibration
from tvdesk.core.drift.features import IMAGE_FEATURES
from tvdesk.core.drift.reference import ReferenceProfile
from tvdesk.core.drift.sequential import BlockAverager

# The condition's blocks, once in this many, may reach the allowance (the middle of the
# quantiles the calibration takes its allowances at: about once in 17 minutes).
ENVELOPE_QUANTILE = 0.999
TAIL_SHARE = 0.1  # the top share of blocks the tail's exponential is fitted to
MIN_BLOCKS = 30  # blocks of a mode's own stream before its spread is trusted (30 s)


def widened_to_stream(
    profile: ReferenceProfile,
    rows: np.ndarray,
    timestamps: Sequence[float],
    stretch_for: Callable[[np.ndarray, float], float] | None = None,
) -> ReferenceProfile:
    """`profile` with each mode's image-feature scales widened, where needed, so that the
    block deviations of a condition's frames (`rows`: (frames, profile.features) in stream
    order, `timestamps` in seconds) that lie nearest to that mode stay within the calibrated
    allowance (by `stretch_for(z, allowance)`, default `needed_stretch`). Detection features
    are left as they are: the captured frames were seen by the model being replaced. Without a
    calibration, or with fewer than `MIN_BLOCKS` blocks nearest to a mode, that mode is kept
    as it is."""
    if profile.calibration is None or len(rows) == 0:
        return profile
    stretch_for = stretch_for or needed_stretch
    blocks = block_means(np.asarray(rows, np.float64), timestamps, profile.calibration)
    if len(blocks) < MIN_BLOCKS:
        return profile
    z, nearest = profile.deviations_of_rows(blocks)
    allowance, _ = profile.calibration.arrays(profile.features)
    image = np.array([name in IMAGE_FEATURES for name in profile.features])
    modes = list(profile.modes)
    for m, mode in enumerate(modes):
        own = z[nearest == m]
        if len(own) < MIN_BLOCKS:
            continue
        stretch = np.ones(len(profile.features))
        for j in np.flatnonzero(image):
            for side, sign in enumerate((-1.0, 1.0)):
                stretch[j] = max(stretch[j], stretch_for(sign * own[:, j], allowance[j, side]))
        modes[m] = replace(mode, scale=mode.scale * stretch)
    return replace(profile, modes=tuple(modes))


def needed_stretch(z: np.ndarray, allowance: float) -> float:
    """The smallest factor (>= 1) that, dividing the deviations `z` (one side), brings their
    `ENVELOPE_QUANTILE` within `allowance`. Minutes of blocks cannot show a once-in-a-thousand
    block, so the quantile is read off an exponential fitted to the top `TAIL_SHARE` of them
    (the peaks-over-threshold estimate), or the blocks' own quantile where that is higher."""
    finite = z[np.isfinite(z)]
    if finite.size < MIN_BLOCKS:
        return 1.0
    level = float(np.quantile(finite, 1.0 - TAIL_SHARE))
    excess = finite[finite > level] - level
    mean_excess = float(excess.mean()) if excess.size else 0.0
    extrapolated = level + mean_excess * math.log(TAIL_SHARE / (1.0 - ENVELOPE_QUANTILE))
    envelope = max(extrapolated, float(np.quantile(finite, ENVELOPE_QUANTILE)))
    return max(1.0, envelope / allowance)


def block_means(
    rows: np.ndarray, timestamps: Sequence[float], calibration: Calibration
) -> np.ndarray:
    """The frames' features averaged over the test's blocks of stream time, in order."""
    averager = BlockAverager(rows.shape[1], calibration.block_seconds)
    blocks = [
        block.mean
        for index, (values, t) in enumerate(zip(rows, timestamps, strict=True))
        if (block := averager.add(values, float(t), index)) is not None
    ]
    if (last := averager.flush()) is not None:
        blocks.append(last.mean)
    return np.array(blocks, np.float64).reshape(-1, rows.shape[1])
