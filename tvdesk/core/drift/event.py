"""The drift event: what the drift monitor reports, the store keeps and the retraining job reads."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DriftEvent:
    """One alarm from raising to settling.

    `drivers` maps each feature that drove the alarm to its signed robust deviation (sigmas
    from the reference), e.g. {"luma_mean": -12.1, "contrast": -6.0}. `frame_indices` are the
    frames of the drift window, for the retraining job to pick from. `end` is None while the
    alarm holds.
    """

    start: float  # stream time (s) when the alarm was raised
    drivers: dict[str, float]
    severity: float  # the largest |statistic| / threshold over the alarm
    frame_indices: tuple[int, ...] = ()
    end: float | None = None
    summary: str = ""  # a sentence for the operator, e.g. "brightness -12σ: looks like night"
    id: int | None = field(default=None, compare=False)  # set by the store
