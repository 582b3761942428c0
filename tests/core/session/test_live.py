"""The live session around a real frame loop: an alarm on night is saved, pinned and shown
with samples; approving queues a real job; a promoted model is swapped in between frames and
the monitor follows it; an expected condition stops alarming."""

from __future__ import annotations

import json
import shutil
import time

import cv2
import numpy as np
import pytest

from jobs.queue import open_queue
from jobs.retraining import RetrainApprover
from tvdesk.config import RetrainSettings, Settings
from tvdesk.core.detector.int8_copy import fp32_path
from tvdesk.core.drift import DriftMonitor
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.drift.status import ALARM
from tvdesk.core.registry import Candidate, version_profile
from tvdesk.core.session.capture import CaptureBuffer, stored_indices
from tvdesk.core.session.events import AlarmRaised, JobQueued, ModelPromoted, RetrainPlan, SwapDone
from tvdesk.core.session.frame_loop import FrameLoop
from tvdesk.core.session.learnt_condition import reference_after_swap
from tvdesk.core.session.live import LiveSession
from tvdesk.core.session.start import start_session
from tvdesk.core.sources import SyntheticSource
from tvdesk.core.store import Camera, DetectionSettings, Store
from tvdesk.core.synth.camera import Scenario, Segment
from tvdesk.core.synth.dataset import DatasetSpec, write_dataset

FPS = 3.0
DAY_S, NIGHT_S = 20.0, 12.0
NIGHT = Scenario("test day-night", (Segment("day", DAY_S), Segment("night", NIGHT_S)))


def _play(session: LiveSession, source) -> tuple[FrameLoop, list]:
    results: list = []
    loop = session.play(source, consumers=[results.append], every_frame=not source.info.live)
    loop.start()
    return loop, results


def _synthetic_camera(session: LiveSession) -> Camera:
    return session.store.cameras.named("synthetic")


@pytest.fixture
def session(bundled_model, isolated_home):
    events: list = []
    retrain = RetrainSettings(epochs=1, label_budget=8, replay=8)
    live = start_session(  # the slot starts on the synthetic camera's version
        Settings(data_dir=isolated_home, model_path=bundled_model),
        SyntheticSource("day").info,
        approver=RetrainApprover(retrain, isolated_home, start_worker=False),
        poll_s=0.2,
    )
    live.subscribe(events.append)
    live.events = events
    yield live
    live.close()


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_cameras_own_detection_cadence_overrides_the_apps(session):
    camera = _synthetic_camera(session)
    source = SyntheticSource("day", fps=FPS)
    app_wide = session.play(source)
    assert app_wide.cadence.max_every == session.settings.detect_every_max == 3
    session.store.cameras.set_detection(camera.id, DetectionSettings(detect_every_max=1))
    session.close()  # the camera is read again when a session opens it
    own = start_session(
        Settings(data_dir=session.data_dir, model_path=session.settings.model_path),
        source.info,
        poll_s=0.2,
    )
    try:
        assert own.play(source).cadence.max_every == 1
    finally:
        own.close()


def test_night_raises_one_saved_alarm_with_samples_and_approve_queues_a_job(session):
    loop, results = _play(session, SyntheticSource(NIGHT, fps=FPS, paced=False))
    outcome = loop.wait(120)
    assert outcome is not None and outcome.reason == "ended", outcome
    _wait(lambda: any(isinstance(e, AlarmRaised) for e in session.events), 10)
    alarms = [e for e in session.events if isinstance(e, AlarmRaised)]
    assert len(alarms) == 1
    alarm = alarms[0]
    assert DAY_S <= alarm.event.start <= DAY_S + 5 and "night" in alarm.event.summary
    assert alarm.samples and all(p.exists() for p in alarm.samples)
    assert alarm.plan.frames == 8 and alarm.plan.expected_seconds > 0
    assert any(r.observations["drift"].state == ALARM for r in results)
    camera = _synthetic_camera(session)
    capture = session.data_dir / "capture" / f"{camera.id}-synthetic"
    assert set(alarm.event.frame_indices) <= set(stored_indices(capture))

    queued = session.approve(alarm.event.id)
    assert isinstance(queued, JobQueued) and queued in session.events
    with Store(session.db_path) as store:
        assert store.drift_events.decision(alarm.event.id) == "approved"
        job = store.jobs.get(queued.job.id)
        assert job.params["event_id"] == alarm.event.id
        assert job.params["capture_dir"] == str(capture)
        assert job.params["camera_id"] == camera.id
        assert [e.id for e in store.drift_events.all()] == [alarm.event.id]  # saved once
    assert open_queue(session.data_dir).pending() == 1


def test_a_promoted_model_is_swapped_in_between_frames_and_the_monitor_follows(
    session, bundled_model, tmp_path
):
    bundled = session.registry.base_version(bundled_model)
    loop, results = _play(session, SyntheticSource("day", fps=15.0, paced=True))
    _wait(lambda: len(results) > 10, 30)
    old_profile = session.monitor.profile

    images = tmp_path / "images"  # a "fine-tuned" version: the same weights, new training data
    images.mkdir()
    for i, frame in enumerate(results[:6]):
        cv2.imwrite(str(images / f"{i}.jpg"), frame.frame.image)
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    promoted = session.registry.register(
        "tvdesk-base",
        Candidate(bundled_model, bundled_model.with_suffix(".pt"), card, train_images=images),
        parent_id=bundled.id,
        activate_for=session.camera.id,
    )
    _wait(lambda: any(isinstance(e, SwapDone) for e in session.events), 20)
    before = len(results)
    _wait(lambda: len(results) > before + 5, 20)
    loop.stop()
    loop.wait(10)

    promotions = [e for e in session.events if isinstance(e, ModelPromoted)]
    assert [p.version.id for p in promotions] == [promoted.id]
    assert promotions[0].previous.id == bundled.id
    swap = next(e.swap for e in session.events if isinstance(e, SwapDone))
    assert swap.accepted and swap.new_version == session.slot.current.version
    assert results[-1].model_version == session.slot.current.version != results[0].model_version
    profile = version_profile(promoted)
    assert profile.calibration == old_profile.calibration  # inherited from the parent
    assert session.monitor is None or session.monitor.profile.source == profile.source

    session.rollback()
    assert session.registry.version_of(_synthetic_camera(session)).id == bundled.id
    assert fp32_path(session.slot.current.path).name == "model.onnx"  # or its int8 copy
    assert session.slot.current.path.parent.name == "1"


def test_dismissing_as_expected_teaches_the_monitor_the_condition(session):
    """Night falls and stays; the operator marks it as expected 30 s in: no new alarm."""
    long_night = Scenario("long night", (Segment("day", DAY_S), Segment("night", 90.0)))
    mark_at = DAY_S + 30.0
    results: list = []
    source = SyntheticSource(long_night, fps=FPS, paced=False)

    def pause_to_decide(result) -> None:
        results.append(result)
        if abs(result.frame.timestamp - mark_at) < 0.5 / FPS:
            loop.pause()  # on the loop's thread: the next frame waits for the decision

    loop = session.play(source, consumers=[pause_to_decide], every_frame=True)
    monitor = session.monitor
    loop.start()
    _wait(lambda: loop.paused and any(isinstance(e, AlarmRaised) for e in session.events), 120)
    alarm = next(e for e in session.events if isinstance(e, AlarmRaised))
    modes = len(monitor.profile.modes)
    session.dismiss(alarm.event.id, expected=True)
    assert len(monitor.profile.modes) == modes + 1
    decided = len(results)
    loop.resume()
    assert loop.wait(120).reason == "ended"
    after = results[decided:]
    assert len(after) > 25 * FPS
    assert not [r for r in after if r.observations["drift"].raised is not None]
    assert not after[-1].observations["drift"].alarm
    with Store(session.db_path) as store:
        assert store.drift_events.decision(alarm.event.id) == "expected"


def test_a_version_trained_on_night_has_a_profile_in_which_night_is_not_drift(
    session, bundled_model, tmp_path
):
    """A retrained version's profile (its day + night training images, the parent's
    calibration) keeps the monitor quiet at night, where the bundled profile alarms."""
    bundled = session.registry.base_version(bundled_model)
    night = Scenario("night", (Segment("night", 30.0),))
    data = write_dataset(  # as a retraining assembles it: base day images + the camera's frames
        tmp_path / "train", DatasetSpec(conditions=("day",), train=40, val=0, seed=3)
    )
    images = data.parent / "images"
    camera = SyntheticSource(night, fps=FPS, paced=False, seed=1)
    while (frame := camera.read()) is not None:
        cv2.imwrite(str(images / "train" / f"night_{frame.index:04d}.jpg"), frame.image)
    camera.close()
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    child = session.registry.register(
        "tvdesk-base",
        Candidate(bundled_model, bundled_model.with_suffix(".pt"), card, train_images=images),
        parent_id=bundled.id,
    )
    profile = version_profile(child)
    assert len(profile.modes) >= 2 and profile.calibration == version_profile(bundled).calibration
    for reference, alarms in ((version_profile(bundled), 1), (profile, 0)):
        source = SyntheticSource(night, fps=FPS, paced=False)
        results: list = []
        loop = FrameLoop(
            source,
            session.slot,
            observers={"drift": DriftMonitor(reference)},
            consumers=[results.append],
            every_frame=True,
        )
        loop.start()
        assert loop.wait(120).reason == "ended"
        raised = [r for r in results if r.observations["drift"].raised is not None]
        assert len(raised) == alarms, [r.observations["drift"].raised.summary for r in raised]


def test_after_a_swap_the_repaired_conditions_captured_stream_widens_its_mode(
    session, bundled_model, tmp_path
):
    """The version a job made for a night alarm: the synthetic camera moves to its profile,
    with the night mode's image-feature spread widened to the night frames the capture ring
    holds (as the monitor measured them), never narrowed; its other modes and calibration
    are the version's."""
    bundled = session.registry.base_version(bundled_model)
    night = Scenario("night", (Segment("night", 60.0),))
    data = write_dataset(
        tmp_path / "train", DatasetSpec(conditions=("day",), train=30, val=0, seed=3)
    )
    images = data.parent / "images"
    capture = CaptureBuffer(tmp_path / "ring")
    monitor = DriftMonitor(version_profile(bundled))
    loop = FrameLoop(
        SyntheticSource(night, fps=FPS, paced=False, seed=1),
        session.slot,
        observers={"drift": monitor},
        consumers=[capture],
        every_frame=True,
    )
    loop.start()
    assert loop.wait(120).reason == "ended"
    capture.close()
    indices = stored_indices(tmp_path / "ring")
    for index in indices[:20]:  # the frames a short first round trained on
        shutil.copy(tmp_path / "ring" / "frames" / f"{index:08d}.jpg", images / "train")
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    child = session.registry.register(
        "tvdesk-base",
        Candidate(bundled_model, bundled_model.with_suffix(".pt"), card, train_images=images),
        parent_id=bundled.id,
    )
    store = session.store
    event = store.drift_events.save(
        DriftEvent(start=0.0, drivers={"luma_mean": -9.0}, severity=2.0, frame_indices=(0, 1))
    )
    job = store.jobs.create(
        "retrain", {"event_id": event.id, "capture_dir": str(tmp_path / "ring")}
    )
    store.jobs.update(job.id, result={"model_ids": [child.id]})

    own = version_profile(child)
    camera = _synthetic_camera(session)
    after = reference_after_swap(store, camera, version_profile(bundled), child)
    assert after.calibration == own.calibration and len(after.modes) == len(own.modes)
    stretch = np.array([m.scale / o.scale for m, o in zip(after.modes, own.modes, strict=True)])
    assert np.nanmin(stretch) >= 1.0 and np.nanmax(stretch) > 1.0
    unrepaired = reference_after_swap(store, camera, own, bundled)  # no job made it
    assert unrepaired.to_dict() == version_profile(bundled).to_dict()


def test_the_plan_says_what_approve_starts_in_the_operators_terms():
    by_time = RetrainPlan("oracle", 200, 0, 320, 8.2 * 60, train_minutes=6.5)
    assert by_time.describe() == (
        "label 200 frames (oracle: the synthetic camera's exact labels, a simulated "
        "annotator), fine-tune 6.5 min at 320 px: about 8 min"
    )
    by_epochs = RetrainPlan("teacher", 40, 3, 320, 100.0)
    assert "fine-tune 3 epochs at 320 px: about 2 min" in by_epochs.describe()
