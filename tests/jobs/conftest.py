"""Fixtures of the retraining tests: one tiny trained model and one captured day->night stream
for the session; each test gets its own app data folder with that model active."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from retrain_support import (
    capture_day_night,
    make_tiny_model,
    release_frames,
    tiny_base_dataset,
)

from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.registry import Registry
from tvdesk.core.session.capture import PINS_NAME
from tvdesk.core.store import Camera, Store
from tvdesk.core.store.camera import SYNTHETIC_KIND

pytest.importorskip("ultralytics", reason="retraining needs the 'train' extra")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def base_yaml(tmp_path_factory) -> Path:
    return tiny_base_dataset(tmp_path_factory.mktemp("tiny-base"))


@pytest.fixture(scope="session")
def captured(tmp_path_factory, tiny_model) -> tuple[Path, DriftEvent]:
    """A capture folder of the day->night stream and the drift event it pinned (id 1, which
    is also its id in each test's fresh store)."""
    root = tmp_path_factory.mktemp("capture")
    with Store(root / "capture.db") as store:
        event = capture_day_night(tiny_model, root / "stream", store)
    return root / "stream", event


@pytest.fixture(scope="session")
def long_stream(tmp_path_factory, tiny_model) -> Path:
    """The day->night stream captured for 190 frames (night from frame 70) with the same
    drift event as `captured` pinned (frames 70-99): what a camera that plays on captures."""
    root = tmp_path_factory.mktemp("long-capture")
    with Store(root / "capture.db") as store:
        capture_day_night(tiny_model, root / "stream", store, frames=190, pinned=100)
    return root / "stream"


@pytest.fixture
def live_capture(tmp_path, long_stream) -> Path:
    """A capture folder that holds the long stream's first 100 frames and the event's pin;
    the test releases the later frames into it (`release_frames`) as the camera plays on."""
    capture = tmp_path / "live-capture"
    release_frames(long_stream, capture, range(100))
    shutil.copyfile(long_stream / PINS_NAME, capture / PINS_NAME)
    return capture


@pytest.fixture
def store(isolated_home, tiny_model, captured) -> Store:
    """The test's store with the synthetic camera on the tiny model's line, and the drift
    event saved as that camera's."""
    with Store() as store:
        base = Registry(store, isolated_home).base_version(tiny_model)
        camera = store.cameras.add(
            Camera(
                SYNTHETIC_KIND, SYNTHETIC_KIND, SYNTHETIC_KIND, SYNTHETIC_KIND, base.name, base.id
            )
        )
        session_id = store.sessions.start(SYNTHETIC_KIND, SYNTHETIC_KIND, base.version, camera.id)
        store.drift_events.save(replace(captured[1], id=None), session_id)
        yield store
