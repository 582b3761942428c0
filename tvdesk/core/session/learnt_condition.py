"""A camera's reference plus a condition it learnt: the frames an alarm captured, as one more
mode of normal (an operator's "this is expected", or the night a retraining taught), and the
reference a camera moves to when a new version of its model goes live."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tvdesk.core.drift.condition_spread import widened_to_stream
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.drift.features import FEATURES, IMAGE_FEATURES, detection_features
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile, robust_mode
from tvdesk.core.registry import version_profile
from tvdesk.core.session.capture import load_frame, stored_indices
from tvdesk.core.store import Camera, Store
from tvdesk.core.store.model_version import ModelVersion

logger = logging.getLogger(__name__)


def with_condition(
    profile: ReferenceProfile, capture_dir: Path, event: DriftEvent
) -> ReferenceProfile:
    """`profile` plus one mode: the condition of the captured frames since the event began,
    its spread widened to what those frames show of it (`condition_spread`)."""
    rows, times = condition_frames(capture_dir, event)
    return _widened(_with_mode(profile, rows, event), rows, times, event)


def _with_mode(profile: ReferenceProfile, rows: np.ndarray, event: DriftEvent) -> ReferenceProfile:
    if len(rows) < 2:
        raise ProfileError(
            "too few frames of this alarm are captured to learn its condition; "
            "record a new baseline instead"
        )
    mode = robust_mode(rows, FEATURES)
    learnt = ReferenceProfile(profile.features, (mode,)).widened_to(profile)
    return ReferenceProfile(
        profile.features,
        (*profile.modes, *learnt.modes),
        profile.calibration,
        profile.background,
        f"{profile.source} + expected condition of alarm {event.id}",
    )


def condition_frames(capture_dir: Path, event: DriftEvent) -> tuple[np.ndarray, list[float]]:
    """The captured frames since `event` began, in stream order: their feature rows
    (`FEATURES`; the detection features are those of the model that saw them) and times."""
    first = min(event.frame_indices, default=0)
    rows, times = [], []
    for index in (i for i in stored_indices(capture_dir) if i >= first):  # the condition so far
        try:
            frame = load_frame(capture_dir, index)
        except Exception:
            continue
        image = [frame.features.get(name, np.nan) for name in IMAGE_FEATURES]
        rows.append(np.concatenate([image, detection_features(frame.detections)]))
        times.append(frame.timestamp)
    return np.array(rows, np.float64).reshape(-1, len(FEATURES)), times


def reference_after_swap(
    store: Store, camera: Camera, current: ReferenceProfile, version: ModelVersion
) -> ReferenceProfile | None:
    """What `camera` tests against once `version` runs: the synthetic camera takes the
    version's training profile; a real camera adds the condition the version's retraining
    learnt (the frames of the alarm it repaired). Either way, where the version repaired an
    alarm, the spread of the condition's frames captured so far widens the modes they fall
    in (`condition_spread`: a mode learnt from a round's seconds of frames understates it).
    None: keep the current reference."""
    repaired = alarm_repaired_by(store, version)
    profile = version_profile(version) if camera.synthetic else None
    if repaired is None or (camera.synthetic and profile is None):
        return profile
    event, capture_dir = repaired
    if not camera.synthetic:
        return with_condition(current, capture_dir, event)
    rows, times = condition_frames(capture_dir, event)
    return _widened(profile, rows, times, event)


def _widened(
    profile: ReferenceProfile, rows: np.ndarray, times: list[float], event: DriftEvent
) -> ReferenceProfile:
    widened = widened_to_stream(profile, rows, times)
    for before, after in zip(profile.modes, widened.modes, strict=True):
        stretch = {
            name: round(float(ratio), 2)
            for name, ratio in zip(profile.features, after.scale / before.scale, strict=True)
            if ratio > 1.0
        }
        if stretch:
            logger.info(
                "a mode of %s widened by the %d captured frames of alarm %s: %s",
                profile.source,
                len(rows),
                event.id,
                stretch,
            )
    return widened


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
