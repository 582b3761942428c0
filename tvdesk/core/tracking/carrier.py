"""Boxes for the frames between two detected ones: tracks carry them at their velocity.

On a detected frame the carrier updates its own `Tracker`; on a skipped frame it gives the
boxes of the tracks seen at the last detection, coasted to the frame's time, and the last
detection's boxes that no track took (scored too low to start one) where they were. A vehicle
that leaves between two detections is carried until the next one; one that enters appears
then.
"""

from __future__ import annotations

import numpy as np

from tvdesk.core.detector.detections import Detections, box_iou
from tvdesk.core.tracking.settings import TrackingSettings
from tvdesk.core.tracking.tracker import Tracker

SAME_BOX_IOU = 0.99  # a track's box at its detection is that detection's box


class BoxCarrier:
    """Predicted `Detections` for skipped frames, from the detections of detected ones."""

    def __init__(self, settings: TrackingSettings | None = None) -> None:
        self._tracker = Tracker(settings)
        self._untracked = Detections()

    def detected(self, detections: Detections, t: float) -> None:
        """The detector's boxes of the frame at stream time `t` (s)."""
        self._tracker.update(detections, t)
        tracked = self._tracker.coasted(t).xyxy
        if not len(tracked):
            self._untracked = detections
            return
        taken = box_iou(detections.xyxy, tracked).max(axis=1) >= SAME_BOX_IOU
        self._untracked = detections.select(~taken)

    def predicted(self, t: float) -> Detections:
        """The boxes of the frame at stream time `t`, between two detected frames."""
        moving, still = self._tracker.coasted(t, self._untracked.names), self._untracked
        return Detections(
            np.concatenate([moving.xyxy, still.xyxy]),
            np.concatenate([moving.scores, still.scores]),
            np.concatenate([moving.class_ids, still.class_ids]),
            still.names,
        )

    def reset(self) -> None:
        """A seek or a new source: nothing to carry until the next detection."""
        self._tracker.reset()
        self._untracked = Detections()
