"""Where the player chooses its file, it runs a version's int8 copy: the slot a session starts
with, a camera put in the slot, and a promoted version followed into the slot; the frames and
the detector say which precision runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tvdesk.config import Settings, traffic_model_path
from tvdesk.core.detector import DetectorSlot, OnnxDetector, runtime_choice
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.core.detector.runtime_choice import int8_cpu, read_choices
from tvdesk.core.registry import INT8_NAME, Candidate, Registry
from tvdesk.core.session import cameras
from tvdesk.core.session.events import SwapDone
from tvdesk.core.session.start import start_session
from tvdesk.core.sources import SourceInfo, SyntheticSource
from tvdesk.core.store import Store
from tvdesk.core.store.connection import database_path
from tvdesk.core.synth.camera import Scenario, Segment

pytestmark = pytest.mark.skipif(
    not int8_cpu()[0], reason="this CPU has no int8 dot product (VNNI): fp32 runs everywhere"
)
SHORT_DAY = Scenario("short day", (Segment("day", 2.0),))


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_session_starts_on_the_int8_copy_and_follows_a_promoted_one(bundled_model, isolated_home):
    session = start_session(
        Settings(data_dir=isolated_home, model_path=bundled_model),
        SyntheticSource("day").info,
        poll_s=0.2,
    )
    events: list = []
    session.subscribe(events.append)
    try:
        slot = session.slot
        assert (slot.current.path.name, slot.current.path.parent.name) == (INT8_NAME, "1")
        assert (slot.current.precision, slot.current.version) == ("int8", "tvdesk-base v1")
        results: list = []
        loop = session.play(
            SyntheticSource(SHORT_DAY, fps=3.0, paced=False), consumers=[results.append]
        )
        loop.start()
        assert loop.wait(60).reason == "ended" and results
        assert {(r.precision, r.model_version) for r in results} == {("int8", "tvdesk-base v1")}

        card = json.loads(bundled_model.with_suffix(".json").read_text())
        camera = session.camera
        session.registry.register(
            "tvdesk-base",
            Candidate(bundled_model, bundled_model.with_suffix(".pt"), card),
            parent_id=camera.model_id,
            activate_for=camera.id,
        )
        _wait(lambda: any(isinstance(e, SwapDone) for e in events), 30)
        assert (slot.current.path.name, slot.current.path.parent.name) == (INT8_NAME, "2")
        assert slot.current.precision == "int8"
    finally:
        session.close()


def test_a_version_live_in_fp32_takes_up_its_int8_copy_once_its_card_says_it_passed(
    bundled_model, isolated_home, tmp_path
):
    """A retrained version goes live in fp32; its int8 copy comes a minute later."""
    info = SyntheticSource("day").info
    settings = Settings(data_dir=isolated_home, model_path=bundled_model)
    session = start_session(settings, info, poll_s=0.2)
    try:
        session.attach(info)  # the camera plays: its version is followed
        slot, camera = session.slot, session.camera
        card = json.loads(bundled_model.with_suffix(".json").read_text())
        passed = card.pop("int8")
        onnx = shutil.copy(bundled_model, tmp_path / "candidate.onnx")  # no int8 copy beside it
        version = session.registry.register(
            "tvdesk-base",
            Candidate(onnx, bundled_model.with_suffix(".pt"), card),
            parent_id=camera.model_id,
            activate_for=camera.id,
        )
        _wait(lambda: slot.current.path == version.path, 30)
        assert slot.current.precision == "fp32"

        failed = {**passed, "file": None, "passed": False, "reason": "int8 lost 0.05 mAP50"}
        session.registry.record_int8(version, failed)
        time.sleep(1.0)  # five looks of the follower
        assert (slot.current.path, slot.current.precision) == (version.path, "fp32")

        shutil.copy(int8_path(bundled_model), int8_path(version.path))
        session.registry.record_int8(version, passed)
        _wait(lambda: slot.current.precision == "int8", 60)
        assert slot.current.path == version.path.with_name(INT8_NAME)
        assert slot.current.version == "tvdesk-base v2"
    finally:
        session.close()


def _real_camera(bundled_model, home):
    """A real camera of a new data folder and its version (the traffic model's first)."""
    info = SourceInfo("file", "/videos/road.mp4", 25.0, (1280, 720), 100, False, True)
    with Store(database_path(home)) as store:
        registry = Registry(store, home)
        base = cameras.BaseModels(bundled_model, traffic_model_path())
        camera = cameras.open_camera(store, registry, info, base)
        return camera, registry.version_of(camera)


def test_a_real_camera_is_put_in_the_slot_on_the_traffic_int8_copy(bundled_model, isolated_home):
    camera, version = _real_camera(bundled_model, isolated_home)
    slot = DetectorSlot(OnnxDetector(bundled_model))
    swap = cameras.put_in_slot(slot, camera, version, 480, isolated_home)
    assert swap is not None and swap.accepted, swap
    assert slot.current.path == version.path.with_name(INT8_NAME)
    assert (slot.current.precision, slot.current.input_hw) == ("int8", (480, 480))
    assert cameras.put_in_slot(slot, camera, version, 480, isolated_home) is None  # there already
    assert cameras.put_in_slot(slot, camera, version, 480).accepted  # no data folder: fp32
    assert (Path(slot.current.path), slot.current.precision) == (version.path, "fp32")


def _put_in_slot_timing_in_background(bundled_model, home):
    camera, version = _real_camera(bundled_model, home)
    slot = DetectorSlot(OnnxDetector(bundled_model))
    swap = cameras.put_in_slot(slot, camera, version, 480, home, time_int8_in_background=True)
    return slot, swap, version


def _timing_done() -> bool:
    return not any(t.name == "tvdesk-int8-timing" for t in threading.enumerate())


def test_a_first_timing_does_not_hold_the_caller_and_the_int8_copy_follows(
    bundled_model, isolated_home, monkeypatch
):
    timing_may_end = threading.Event()
    real_measure = runtime_choice.measure

    def measure_when_let(*args):
        assert timing_may_end.wait(60)
        return real_measure(*args)

    monkeypatch.setattr(runtime_choice, "measure", measure_when_let)
    slot, swap, version = _put_in_slot_timing_in_background(bundled_model, isolated_home)
    assert swap is not None and swap.accepted and slot.current.path == version.path  # fp32 now
    timing_may_end.set()
    _wait(lambda: slot.current.precision == "int8", 60)
    assert slot.current.path == version.path.with_name(INT8_NAME)
    (choice,) = read_choices(isolated_home).values()
    assert choice["choice"] == "int8"


def test_a_camera_changed_during_the_timing_keeps_its_model(bundled_model, isolated_home):
    slot, *_ = _put_in_slot_timing_in_background(bundled_model, isolated_home)
    assert slot.load_and_swap(bundled_model).accepted  # another camera opened meanwhile
    _wait(_timing_done, 60)
    assert read_choices(isolated_home)  # it was timed, and remembered
    assert slot.current.path == bundled_model  # but not swapped over the other camera's model


def test_a_process_ending_during_the_timing_exits_cleanly(bundled_model, isolated_home):
    """ONNX Runtime running on a thread the interpreter abandons at exit aborts the process."""
    script = f"""
from pathlib import Path
from test_int8_session import _put_in_slot_timing_in_background
_put_in_slot_timing_in_background(Path({str(bundled_model)!r}), Path({str(isolated_home)!r}))
"""
    ended = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ended.returncode == 0, ended.stderr[-2000:]
    assert read_choices(isolated_home), "the timing did not finish before the process ended"


def test_a_session_started_for_a_window_starts_on_fp32_and_times_once(
    bundled_model, isolated_home, monkeypatch
):
    timings = []
    timing_may_end = threading.Event()
    real_measure = runtime_choice.measure

    def counted_measure(*args):
        timings.append(args)
        assert timing_may_end.wait(60)
        return real_measure(*args)

    monkeypatch.setattr(runtime_choice, "measure", counted_measure)
    info = SourceInfo("file", "/videos/road.mp4", 25.0, (1280, 720), 100, False, True)
    settings = Settings(data_dir=isolated_home, model_path=bundled_model)
    session = start_session(settings, info, poll_s=0.2, time_int8_in_background=True)
    try:
        slot = session.slot
        assert slot.current.precision == "fp32"  # not held by the timing
        version = slot.current.path
        session.attach(info)  # the camera plays while its timing runs: no second timing
        timing_may_end.set()
        _wait(lambda: slot.current.precision == "int8", 60)
        _wait(_timing_done, 60)
        assert len(timings) == 1
        assert slot.current.path == version.with_name(INT8_NAME)
    finally:
        timing_may_end.set()
        session.close()
