"""The drifted condition a job repairs, told apart from the camera's old normal: which of the
frames captured after the alarm show it (what a refinement round learns from), and whether
it still holds.

After the first swap the alarm usually ends (the new version's reference includes the
condition), so its pin stops growing. A round therefore reads the capture ring itself: each
frame's sidecar carries its image features, and a frame shows the condition when it is nearer
to the condition's mode (learnt from the alarm's settled frames) than to every mode of the
reference the alarm was raised against. Only image features count: what the model sees
changes with every version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tvdesk.core.drift.features import FEATURES
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile, robust_mode
from tvdesk.core.session.capture import CapturedFrame

CONDITION_FILE = "condition.json"
MIN_FRAMES = 5  # settled frames of the alarm needed to learn its condition
ENDED_WINDOW = 50  # the newest frames that say whether the condition still holds
ENDED_SHARE = 0.5  # ... it has ended when fewer than this share of them show it


@dataclass(frozen=True)
class DriftedCondition:
    """The old normal's modes and, as the last mode, the condition's."""

    profile: ReferenceProfile

    def shows(self, frames: Sequence[CapturedFrame]) -> np.ndarray:
        """For each frame: does it show the condition (nearest to its mode)?"""
        if not frames:
            return np.zeros(0, bool)
        _, nearest = self.profile.deviations_of_rows(feature_rows(frames, self.profile.features))
        return nearest == len(self.profile.modes) - 1

    def ended(self, newest: Sequence[CapturedFrame]) -> bool:
        """The newest frames (oldest first) no longer show the condition, mostly."""
        window = list(newest)[-ENDED_WINDOW:]
        return len(window) >= ENDED_WINDOW and self.shows(window).mean() < ENDED_SHARE

    def save(self, folder: Path) -> Path:
        path = folder / CONDITION_FILE
        self.profile.save(path)
        return path

    @classmethod
    def load(cls, folder: Path) -> DriftedCondition:
        return cls(ReferenceProfile.load(folder / CONDITION_FILE))


def drifted_condition(
    normal: ReferenceProfile, settled: Sequence[CapturedFrame]
) -> DriftedCondition:
    """The condition of `settled` (frames of the alarm once its change had settled) beside the
    reference `normal` it drifted from; its spread at least the widest of `normal`'s, as a
    learnt condition's is (`ReferenceProfile.widened_to`)."""
    if len(settled) < MIN_FRAMES:
        raise ProfileError(
            f"{len(settled)} settled frames of the alarm are too few to learn its condition "
            f"({MIN_FRAMES} needed)"
        )
    mode = robust_mode(feature_rows(settled, normal.features), normal.features)
    learnt = ReferenceProfile(normal.features, (mode,)).widened_to(normal)
    return DriftedCondition(
        ReferenceProfile(
            normal.features,
            (*normal.modes, *learnt.modes),
            source=f"{normal.source} + the drifted condition (last mode)",
        )
    )


def normal_of_frames(frames: Sequence[CapturedFrame]) -> ReferenceProfile:
    """The old normal as the frames a camera captured before its alarm show it: for a camera
    tested against a baseline it learnt in memory and did not keep (the synthetic camera on a
    model without a drift profile)."""
    if len(frames) < MIN_FRAMES:
        raise ProfileError(
            f"{len(frames)} frames from before the alarm are captured, too few to tell its "
            f"condition from the normal ({MIN_FRAMES} needed)"
        )
    mode = robust_mode(feature_rows(frames, FEATURES), FEATURES)
    return ReferenceProfile(FEATURES, (mode,), source="the frames captured before the alarm")


def feature_rows(frames: Sequence[CapturedFrame], names: Sequence[str]) -> np.ndarray:
    """(frames, names) of the image features each frame's sidecar holds; NaN for the rest."""
    return np.array(
        [[frame.features.get(name, np.nan) for name in names] for frame in frames], np.float64
    )
