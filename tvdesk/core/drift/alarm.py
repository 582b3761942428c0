"""An alarm in progress: when it began, which features drive it, how severe it has been,
and the `DriftEvent` that reports it to the store."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.drift.explain import summary


@dataclass
class Alarm:
    """Raised at stream time `start`; the drift window begins at frame `first_frame`.

    `drivers` are the features that raised it (signed robust sigmas), `context` every
    feature's deviation at that moment (for the hint), `peaks` the strongest deviation of
    each feature that drove it at any time, `severity` the largest sum / threshold.
    """

    start: float
    first_frame: int
    drivers: dict[str, float]
    context: dict[str, float]
    severity: float
    peaks: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.peaks = {**self.drivers, **self.peaks}

    def track(self, drivers: dict[str, float], ratio: float) -> None:
        """One more block of the alarm: keep its severity and each driver's peak."""
        self.severity = max(self.severity, ratio)
        for name, value in drivers.items():
            if abs(value) > abs(self.peaks.get(name, 0.0)):
                self.peaks[name] = value

    def event(self, end: float | None, last_frame: int, max_frames: int) -> DriftEvent:
        """The event as raised (end None: the drivers that raised it) or as ended (the peaks
        over the whole alarm); frames of the window evenly spread, at most `max_frames`."""
        drivers = self.drivers if end is None else self.peaks
        count = max(min(max_frames, last_frame - self.first_frame + 1), 1)
        frames = np.unique(np.linspace(self.first_frame, last_frame, count).round())
        return DriftEvent(
            start=self.start,
            drivers={k: round(v, 2) for k, v in drivers.items()},
            severity=round(self.severity, 3),
            frame_indices=tuple(int(f) for f in frames),
            end=end,
            summary=summary(drivers, self.context),
        )
