"""The drift monitor on rendered video: silent while normal, quick at night, right about why,
and unshaken by bad input."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest

from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift import (
    FEATURES,
    DriftConfig,
    DriftMonitor,
    ProfileError,
    profile_from_features,
)
from tvdesk.core.drift.calibration import Calibration
from tvdesk.core.drift.model_profile import profile_from_card
from tvdesk.core.synth import SceneRenderer, preset
from tvdesk.core.synth.vehicles import advance_traffic, sample_traffic

FPS = 3.0
BASELINE_S, BACKGROUND_S = 60.0, 10.0
CONFIG = DriftConfig(baseline_seconds=BASELINE_S, background_seconds=BACKGROUND_S)
NIGHT_AT, NIGHT_S, AFTER_S = 72.0, 10.0, 50.0  # night falls abruptly, then day returns


def _render(segments: list[tuple[str, float]], seed: int) -> list[np.ndarray]:
    """Contiguous video of (condition, seconds) segments; one nuisance for the whole stream."""
    renderer = SceneRenderer()
    rng = np.random.default_rng(seed)
    nuisance = preset("day").with_nuisance(np.random.default_rng(seed + 1))
    traffic = sample_traffic(rng, renderer.camera, nuisance.traffic_density)
    frames, t = [], 0.0
    for name, seconds in segments:
        c = dataclasses.replace(
            preset(name),
            traffic_density=nuisance.traffic_density,
            cloud_cover=nuisance.cloud_cover,
            sun_angle=nuisance.sun_angle,
        )
        for _ in range(int(seconds * FPS)):
            frames.append(renderer.render(traffic, c, rng, t).image)
            traffic = advance_traffic(traffic, rng, renderer.camera, 1 / FPS, c.traffic_density)
            t += 1 / FPS
    return frames


def _run(monitor: DriftMonitor, frames: list[np.ndarray], start: float = 0.0):
    return [monitor.update(f, Detections(), start + i / FPS) for i, f in enumerate(frames)]


@pytest.fixture(scope="module")
def night_run():
    frames = _render([("day", NIGHT_AT), ("night", NIGHT_S), ("day", AFTER_S)], seed=11)
    monitor = DriftMonitor(config=CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        statuses = _run(monitor, frames)
    return monitor, statuses


def test_the_first_minutes_become_a_calibrated_baseline(night_run):
    monitor, statuses = night_run
    assert statuses[0].state == "learning"
    learnt = next(s for s in statuses if s.state != "learning")
    assert learnt.timestamp == pytest.approx(BASELINE_S, abs=1 / FPS)
    profile = monitor.profile
    assert profile.background is not None and profile.calibration.method == "bonferroni"
    assert profile.source.startswith("baseline")


def test_silent_on_normal_video_then_night_is_caught_within_5_s_and_explained(night_run):
    _, statuses = night_run
    raised = [s.raised for s in statuses if s.raised is not None]
    assert len(raised) == 1, [e.summary for e in raised]
    event = raised[0]
    assert NIGHT_AT <= event.start <= NIGHT_AT + 5.0
    assert next(iter(event.drivers)) in ("luma_mean", "luma_p95", "edge_recall", "dark_channel")
    assert event.drivers.get("luma_mean", 0) < -4 or "night" in event.summary
    assert "looks like night" in event.summary
    assert event.severity >= 1.0 and event.end is None


def test_the_alarm_holds_through_the_night_then_settles_and_rearms(night_run):
    _, statuses = night_run
    raised = next(s.raised for s in statuses if s.raised is not None)
    during = [s for s in statuses if raised.start < s.timestamp < NIGHT_AT + NIGHT_S]
    assert during and all(s.alarm for s in during)
    assert any(s.drivers for s in during)
    ended = [s.ended for s in statuses if s.ended is not None]
    assert len(ended) == 1
    event = ended[0]
    assert event.start == raised.start  # the store matches the two by their start
    assert NIGHT_AT + NIGHT_S < event.end <= NIGHT_AT + NIGHT_S + 40
    first, last = event.frame_indices[0], event.frame_indices[-1]
    assert (NIGHT_AT - 5) * FPS <= first <= NIGHT_AT * FPS + 8 and last > first
    assert statuses[-1].state == "watching"


@pytest.mark.parametrize(
    "condition, feature, words",
    [
        ("camera-moved", "edge_recall", "moved"),
        ("dirty-lens", "sharpness_r2c3", "bottom right"),
    ],
)
def test_camera_faults_are_named(night_run, condition, feature, words):
    monitor, _ = night_run
    watcher = DriftMonitor(monitor.profile, CONFIG)
    frames = _render([("day", 6.0), (condition, 10.0)], seed=11)
    raised = [s.raised for s in _run(watcher, frames) if s.raised is not None]
    assert raised, f"{condition} was not detected"
    assert raised[0].start <= 6.0 + 5.0
    assert feature in raised[0].drivers and raised[0].drivers[feature] < 0
    assert words in raised[0].summary


def test_status_is_an_immutable_snapshot(night_run):
    _, statuses = night_run
    status = statuses[-1]
    assert status.features == FEATURES and status.statistic.shape == (len(FEATURES),)
    assert not status.statistic.flags.writeable and not status.threshold.flags.writeable
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.state = "alarm"
    with pytest.raises(TypeError):
        status.drivers["x"] = 1.0


def _flat_calibration(k=1.0, h=5.0) -> Calibration:
    return Calibration(
        dict.fromkeys(FEATURES, (k, k)), dict.fromkeys(FEATURES, (h, h)), 1.0, 1.0, 1.0
    )


def test_bad_frames_never_crash_or_divide_by_zero():
    monitor = DriftMonitor(config=DriftConfig(baseline_seconds=12, background_seconds=3))
    rng = np.random.default_rng(0)
    good = (rng.random((90, 160, 3)) * 255).astype(np.uint8)
    bad = [
        np.zeros((360, 640, 3), np.uint8),
        np.full((360, 640, 3), 255, np.uint8),
        np.zeros((240, 320), np.uint8),
        np.zeros((1, 1, 3), np.uint8),
        np.zeros((0, 0, 3), np.uint8),
        np.full((50, 50, 3), np.nan, np.float32),
        np.zeros((48, 64, 4), np.uint8),
        np.zeros((5,), np.uint8),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for i in range(200):
            frame = bad[i % len(bad)] if i % 3 == 0 else good
            status = monitor.update(frame, Detections() if i % 2 else None, i / 5.0)
            assert np.isfinite(status.statistic).all()
        status = monitor.update(good, Detections(), float("nan"))
        assert status.frame_index == 200


def test_a_frozen_stream_learns_zero_spread_and_stays_quiet():
    frame = (np.random.default_rng(1).random((120, 200, 3)) * 255).astype(np.uint8)
    monitor = DriftMonitor(config=DriftConfig(baseline_seconds=15, background_seconds=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        statuses = [monitor.update(frame, Detections(), i / 5.0) for i in range(250)]
    assert monitor.profile is not None
    assert not any(s.raised for s in statuses)
    assert np.nanmax(np.abs(statuses[-1].deviation)) < 1e-9


def _features(rng, n, luma):
    values = rng.normal(0.0, 1.0, (n, len(FEATURES)))
    values[:, 0] = rng.normal(luma, 3.0, n)
    return values


def test_nan_features_are_skipped_and_a_model_trained_on_night_accepts_night():
    rng = np.random.default_rng(2)
    day, night = _features(rng, 300, 120.0), _features(rng, 300, 20.0)
    day_model = profile_from_features(day, calibration=_flat_calibration())
    both = profile_from_features(np.vstack([day, night]), calibration=_flat_calibration())
    stream = _features(rng, 200, 20.0)
    stream[::7] = np.nan
    for profile, alarms in ((day_model, 1), (both, 0)):
        monitor = DriftMonitor(profile)
        raised = [monitor.observe(row, i / 10).raised for i, row in enumerate(stream)]
        assert sum(r is not None for r in raised) == alarms


def test_swapping_the_reference_ends_the_alarm_and_rejects_uncalibrated_profiles():
    rng = np.random.default_rng(3)
    day, night = _features(rng, 300, 120.0), _features(rng, 300, 20.0)
    monitor = DriftMonitor(profile_from_features(day, calibration=_flat_calibration()))
    for i, row in enumerate(_features(rng, 50, 20.0)):
        monitor.observe(row, i / 10)
    assert monitor.observe(night[0], 5.0).alarm
    monitor.set_reference(
        profile_from_features(np.vstack([day, night]), calibration=_flat_calibration())
    )
    status = monitor.observe(night[1], 5.1)
    assert status.ended is not None and status.ended.end is not None and not status.alarm
    with pytest.raises(ProfileError, match="calibrat"):
        monitor.set_reference(profile_from_features(day))
    with pytest.raises(ProfileError, match="no baseline"):
        monitor.finish_baseline()


def test_the_bundled_model_carries_a_calibrated_profile_that_catches_night(bundled_model):
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    profile = profile_from_card(card)
    assert profile is not None, "the bundled card has no drift profile: run bench/drift.py"
    assert profile.calibration.hours >= 24 * 7 and profile.features == FEATURES
    monitor = DriftMonitor(profile)
    frames = _render([("day", 20.0), ("night", 8.0)], seed=21)
    statuses = _run(monitor, frames)
    raised = [s.raised for s in statuses if s.raised is not None]
    assert len(raised) == 1 and 20.0 <= raised[0].start <= 25.0
    assert "looks like night" in raised[0].summary
