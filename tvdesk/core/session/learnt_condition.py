"""A camera's reference plus a condition it learnt: the frames an alarm captured, as one more
mode of normal (an operator's "this is expected", or the night a retraining taught), and the
reference a camera moves to when a new version of its model goes live."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.drift.features import FEATURES, IMAGE_FEATURES, detection_features
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile, robust_mode
from tvdesk.core.registry import version_profile
from tvdesk.core.session.capture import load_frame, stored_indices
from tvdesk.core.store import Camera, Store
from tvdesk.core.store.model_version import ModelVersion


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


def reference_after_swap(
    store: Store, camera: Camera, current: ReferenceProfile, version: ModelVersion
) -> ReferenceProfile | None:
    """What `camera` tests against once `version` runs: the synthetic camera takes the
    version's training profile; a real camera adds the condition the version's retraining
    learnt (the frames of the alarm it repaired). None: keep the current reference."""
    if camera.synthetic:
        return version_profile(version)
    repaired = alarm_repaired_by(store, version)
    if repaired is None:
        return None
    event, capture_dir = repaired
    return with_condition(current, capture_dir, event)


def alarm_repaired_by(store: Store, version: ModelVersion) -> tuple[DriftEvent, Path] | None:
    """The drift event (and its capture) of the job that made `version`, if one did: in any
    of its rounds, while it goes on or after it ended."""
    for job in store.jobs.all():
        if version.id in job.result.get("model_ids", [job.result.get("model_id")]):
            events = {e.id: e for e in store.drift_events.all()}
            event_id = job.params.get("event_id")
            if event_id in events:
                return events[event_id], Path(job.params["capture_dir"])
    return None
