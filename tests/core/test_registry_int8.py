"""The registry keeps a candidate's int8 copy as the version's model.int8.onnx, its card
pointing at it; a copy that does not load is left out and the version registers all the same."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from tvdesk.core.atomic import sha256_of
from tvdesk.core.detector.int8_copy import gated_int8, int8_path
from tvdesk.core.registry import INT8_NAME, Candidate, Registry
from tvdesk.core.store import Store


@pytest.fixture
def registry(isolated_home):
    with Store() as store:
        yield Registry(store, isolated_home)


def test_the_bundled_models_int8_copy_becomes_its_versions(registry, bundled_model):
    version = registry.base_version(bundled_model)
    copy = version.path.with_name(INT8_NAME)
    assert copy == int8_path(version.path) and copy.is_file()
    assert sha256_of(copy) == sha256_of(int8_path(bundled_model))
    entry = json.loads(version.path.with_name("card.json").read_text())["int8"]
    assert entry["file"] == INT8_NAME and entry["passed"]
    assert gated_int8(version.path, 320) == (copy, "")


def test_an_int8_copy_that_does_not_load_is_left_out(registry, bundled_model, tmp_path, caplog):
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    onnx = shutil.copy(bundled_model, tmp_path / "candidate.onnx")
    int8_path(onnx).write_bytes(b"half a model")
    with caplog.at_level(logging.WARNING):
        first = registry.base_version(bundled_model)
        version = registry.register(
            "tvdesk-base", Candidate(onnx, tmp_path / "no.pt", card), parent_id=first.id
        )
    assert version.version == "2" and version.path.is_file()
    assert not version.path.with_name(INT8_NAME).exists()
    assert "the version runs fp32" in caplog.text
    assert "is missing" in gated_int8(version.path, 320)[1]


def test_an_int8_verdict_is_recorded_in_a_live_versions_card(registry, bundled_model, tmp_path):
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    entry = card.pop("int8")
    onnx = shutil.copy(bundled_model, tmp_path / "candidate.onnx")
    first = registry.base_version(bundled_model)
    version = registry.register(
        "tvdesk-base", Candidate(onnx, tmp_path / "no.pt", card), parent_id=first.id
    )
    assert gated_int8(version.path, 320) == (None, "the model has no int8 copy")

    int8_path(version.path).write_bytes(b"half a model")  # a copy that does not load
    registry.record_int8(version, entry)
    recorded = json.loads(version.path.with_name("card.json").read_text())["int8"]
    assert (recorded["passed"], recorded["file"]) == (False, None)
    assert "does not load" in recorded["reason"] and not int8_path(version.path).exists()

    shutil.copy(int8_path(bundled_model), int8_path(version.path))
    registry.record_int8(version, entry)
    card_after = json.loads(version.path.with_name("card.json").read_text())
    assert card_after["int8"]["file"] == INT8_NAME and card_after["version"] == "2"
    assert gated_int8(version.path, 320) == (version.path.with_name(INT8_NAME), "")
