"""Boxes for the frames between two detected ones: tracks carry them at their velocity.

On a detected frame the carrier updates its own `Tracker`; on a skipped frame it gives the
boxes of the tracks seen at the last detection, coasted to the frame's time. A vehicle that
leaves between two detections is carried until the next one; one that enters appears then.
"""

from __future__ import annotations

from collections.abc import Sequence

from tvdesk.core.detector.detections import Detections
from tvdesk.core.tracking.settings import TrackingSettings
from tvdesk.core.tracking.tracker import Tracker


class BoxCarrier:
    """Predicted `Detections` for skipped frames, from the detections of detected ones."""

    def __init__(self, settings: TrackingSettings | None = None) -> None:
        self._tracker = Tracker(settings)
        self._names: Sequence[str] = ()

    def detected(self, detections: Detections, t: float) -> None:
        """The detector's boxes of the frame at stream time `t` (s)."""
        self._tracker.update(detections, t)
        self._names = detections.names

    def predicted(self, t: float) -> Detections:
        """The boxes of the frame at stream time `t`, between two detected frames."""
        return self._tracker.coasted(t, self._names)

    def reset(self) -> None:
        """A seek or a new source: nothing to carry until the next detection."""
        self._tracker.reset()
