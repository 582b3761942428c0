"""When the CPU is short, detect every k-th frame: the cadence decides per frame.

The policy, stated: the cost of a detection (the detect call, waiting for the engine's turn
included) is smoothed over the last detections, and the source's frame period is measured
from frame timestamps (per index step, so frames a live feed drops do not stretch it). `k`,
one detection in every `k` frames, is the smallest integer with cost <= k x period x
`HEADROOM`, never above `max_every`. It rises as soon as the smoothed cost needs it, and falls
back only once the cost fits the lower `k` with `FALL_MARGIN` to spare, so a cost near a
boundary does not flip `k` every frame. `max_every = 1` detects every frame. A jump in time
(a seek, a looping file) detects the next frame at once.
"""

from __future__ import annotations

import math

from tvdesk.core.sources import Frame

SMOOTHING = 0.2  # weight of the newest sample in both running means
HEADROOM = 0.9  # the share of the frames' time detection may take; the rest shows frames
FALL_MARGIN = 0.85  # k falls once the cost fits k - 1 with this margin
MAX_GAP_S = 1.0  # a gap between frames longer than this is a jump, not a frame period


class DetectionCadence:
    """Says which frames to detect (`due`) from the costs it is told (`detected`)."""

    def __init__(self, max_every: int = 1) -> None:
        if max_every < 1:
            raise ValueError(f"max_every must be 1 or more, got {max_every}")
        self.max_every = max_every
        self.every = 1
        self.cost_s: float | None = None
        self.period_s: float | None = None
        self._last: Frame | None = None
        self._since = 0  # frames since the last detected one

    def due(self, frame: Frame) -> bool:
        """Whether `frame` is to be detected; call once per frame shown, in order."""
        jumped = self._observe_period(frame)
        self._since += 1
        if jumped or self._since >= self.every:
            self._since = 0
            return True
        return False

    def detected(self, cost_s: float) -> None:
        """The detection just made took `cost_s` seconds: adapt `k`."""
        self.cost_s = _smoothed(self.cost_s, cost_s)
        if self.period_s is None or self.max_every == 1:
            return
        budget = self.period_s * HEADROOM
        needed = min(self.max_every, max(1, math.ceil(self.cost_s / budget)))
        if needed > self.every or self.cost_s <= (self.every - 1) * budget * FALL_MARGIN:
            self.every = needed

    def reset(self) -> None:
        """A new stream position: detect the next frame and measure afresh."""
        self._last, self._since = None, 0

    def _observe_period(self, frame: Frame) -> bool:
        """Learn the period from `frame` and the one before; True if time jumped."""
        last, self._last = self._last, frame
        if last is None:
            return True
        steps, gap = frame.index - last.index, frame.timestamp - last.timestamp
        if steps <= 0 or gap <= 0 or gap > MAX_GAP_S:
            return True
        self.period_s = _smoothed(self.period_s, gap / steps)
        return False


def _smoothed(mean: float | None, sample: float) -> float:
    return sample if mean is None else mean + SMOOTHING * (sample - mean)
