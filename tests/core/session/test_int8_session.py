"""Where the player chooses its file, it runs a version's int8 copy: the slot a session starts
with, a camera put in the slot, and a promoted version followed into the slot; the frames and
the detector say which precision runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tvdesk.config import Settings, traffic_model_path
from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.detector.runtime_choice import int8_cpu
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


def test_a_real_camera_is_put_in_the_slot_on_the_traffic_int8_copy(bundled_model, isolated_home):
    info = SourceInfo("file", "/videos/road.mp4", 25.0, (1280, 720), 100, False, True)
    with Store(database_path(isolated_home)) as store:
        registry = Registry(store, isolated_home)
        base = cameras.BaseModels(bundled_model, traffic_model_path())
        camera = cameras.open_camera(store, registry, info, base)
        version = registry.version_of(camera)
    slot = DetectorSlot(OnnxDetector(bundled_model))
    swap = cameras.put_in_slot(slot, camera, version, 480, isolated_home)
    assert swap is not None and swap.accepted, swap
    assert slot.current.path == version.path.with_name(INT8_NAME)
    assert (slot.current.precision, slot.current.input_hw) == ("int8", (480, 480))
    assert cameras.put_in_slot(slot, camera, version, 480, isolated_home) is None  # there already
    assert cameras.put_in_slot(slot, camera, version, 480).accepted  # no data folder: fp32
    assert (Path(slot.current.path), slot.current.precision) == (version.path, "fp32")
