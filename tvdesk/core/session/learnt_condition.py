"""A camera's reference plus a condition it learnt: the frames an alarm captured, as one more
mode of normal (an operator's "this is expected", or the night a retraining taught)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.drift.features import FEATURES, IMAGE_FEATURES, detection_features
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile, robust_mode
from tvdesk.core.session.capture import load_frame, stored_indices


def with_condition(
    profile: ReferenceProfile, capture_dir: Path, event: DriftEvent
) -> ReferenceProfile:
    """`profile` plus one mode: the condition of the captured frames since the event began."""
    first = min(event.frame_indices, default=0)
    rows = []
    for index in (i for i in stored_indices(capture_dir) if i >= first):  # the condition so far
        try:
            frame = load_frame(capture_dir, index)
        except Exception:
            continue
        image = [frame.features.get(name, np.nan) for name in IMAGE_FEATURES]
        rows.append(np.concatenate([image, detection_features(frame.detections)]))
    if len(rows) < 2:
        raise ProfileError(
            "too few frames of this alarm are captured to learn its condition; "
            "record a new baseline instead"
        )
    mode = robust_mode(np.array(rows, np.float64), FEATURES)
    learnt = ReferenceProfile(profile.features, (mode,)).widened_to(profile)
    return ReferenceProfile(
        profile.features,
        (*profile.modes, *learnt.modes),
        profile.calibration,
        profile.background,
        f"{profile.source} + expected condition of alarm {event.id}",
    )
