"""Fixtures of the retraining tests: one tiny trained model and one captured day->night stream
for the session; each test gets its own app data folder with that model active."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from retrain_support import capture_day_night, make_tiny_model, tiny_base_dataset

from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.registry import Registry
from tvdesk.core.store import Store

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


@pytest.fixture
def store(isolated_home, tiny_model, captured) -> Store:
    """The test's store with the tiny model active and the drift event saved."""
    with Store() as store:
        Registry(store, isolated_home).active(tiny_model)
        store.drift_events.save(replace(captured[1], id=None))
        yield store
