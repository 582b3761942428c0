"""The model registry with a real store and real ONNX files: versions on disk and in the store,
validation in the detector, activation, rollback, and no half-written version ever visible."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from detector_support import fixed_output_model, raw_output, ultralytics_metadata

from tvdesk.core.registry import (
    STAGING_PREFIX,
    Candidate,
    Registry,
    RegistryError,
    pt_path,
    validate_onnx,
)
from tvdesk.core.store import Camera, Store
from tvdesk.core.synth.dataset import DatasetSpec, write_dataset

NAMES = ["car", "truck", "bus", "motorcycle"]


def _model(folder, stem="tvdesk-base"):
    head = raw_output(np.array([[160.0, 160.0, 40.0, 30.0]]), np.array([[0.9, 0.0, 0.0, 0.0]]))
    onnx = fixed_output_model(folder / f"{stem}.onnx", [head], ultralytics_metadata(NAMES))
    onnx.with_suffix(".pt").write_bytes(b"checkpoint bytes")
    card = {"data": {"dvc_md5": "abc.dir"}, "metrics": {"day": {"map50": 0.8}}}
    onnx.with_suffix(".json").write_text(json.dumps(card))
    return onnx


@pytest.fixture
def registry(isolated_home, tmp_path):
    with Store() as store:
        yield Registry(store, isolated_home)


def _camera(registry: Registry, first, name: str = "synthetic") -> Camera:
    camera = Camera(name, name, f"key:{name}", "synthetic", first.name, first.id)
    return registry.store.cameras.add(camera)


def test_the_bundled_model_becomes_version_1_on_first_use(registry, tmp_path):
    model = registry.base_version(_model(tmp_path))
    assert (model.name, model.version, model.parent_id) == ("tvdesk-base", "1", None)
    assert model.data_md5 == "abc.dir" and model.metrics == {"day": {"map50": 0.8}}
    assert model.path == registry.root / "tvdesk-base" / "1" / "model.onnx"
    assert pt_path(model).read_bytes() == b"checkpoint bytes"
    assert registry.base_version(_model(tmp_path)).id == model.id  # not registered twice


def test_register_activate_and_roll_back(registry, tmp_path):
    first = registry.base_version(_model(tmp_path))
    camera, other = _camera(registry, first), _camera(registry, first, "other")
    images = write_dataset(tmp_path / "ds", DatasetSpec(train=4, val=0, width=160, height=90))
    candidate = Candidate(
        _model(tmp_path, "candidate"),
        tmp_path / "candidate.pt",
        {"training": {"epochs": 3}},
        data_md5="def.dir",
        params={"epochs": 3},
        metrics={"drift": {"map50": 0.7}},
        train_images=images.parent / "images",
    )
    second = registry.register("tvdesk-base", candidate, parent_id=first.id, activate_for=camera.id)
    assert (second.version, second.parent_id) == ("2", first.id)
    assert registry.store.cameras.get(camera.id).model_id == second.id
    assert registry.store.cameras.get(other.id).model_id == first.id  # untouched
    card = json.loads((second.path.parent / "card.json").read_text())
    assert card["version"] == "2" and card["class_names"] == NAMES
    assert card["drift_profile"] == "profile.json"
    assert registry.rollback(camera.id).id == first.id
    assert registry.version_of(registry.store.cameras.get(camera.id)).id == first.id
    assert registry.activate(camera.id, second.id).id == second.id
    assert [m.version for m in registry.versions()] == ["1", "2"]


def test_a_camera_runs_only_versions_of_its_own_line(registry, tmp_path):
    first = registry.base_version(_model(tmp_path))
    other_line = registry.base_version(_model(tmp_path, "tvdesk-traffic"))
    camera = _camera(registry, first)
    with pytest.raises(RegistryError, match="not on camera 'synthetic'"):
        registry.activate(camera.id, other_line.id)


def test_a_model_the_detector_rejects_is_never_registered(registry, tmp_path):
    first = registry.base_version(_model(tmp_path))
    camera = _camera(registry, first)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx file")
    with pytest.raises(RegistryError, match="does not load in the detector"):
        registry.register(
            "tvdesk-base",
            Candidate(broken, tmp_path / "x.pt", {}),
            parent_id=first.id,
            activate_for=camera.id,
        )
    assert [m.version for m in registry.versions()] == ["1"]
    assert sorted(p.name for p in (registry.root / "tvdesk-base").iterdir()) == ["1"]
    assert registry.store.cameras.get(camera.id).model_id == first.id


def test_rollback_of_the_first_version_says_there_is_none(registry, tmp_path):
    camera = _camera(registry, registry.base_version(_model(tmp_path)))
    with pytest.raises(RegistryError, match="no earlier version"):
        registry.rollback(camera.id)


def test_leftover_staging_folders_are_removed(registry, tmp_path):
    registry.base_version(_model(tmp_path))
    leftover = registry.root / "tvdesk-base" / f"{STAGING_PREFIX}killed"
    leftover.mkdir()
    (leftover / "model.onnx").write_bytes(b"half")
    assert registry.remove_staging() == [leftover]
    assert not leftover.exists()


def test_validate_onnx_returns_the_class_names(tmp_path):
    assert validate_onnx(_model(tmp_path)) == NAMES


def test_two_registrations_at_once_take_two_version_numbers(registry, isolated_home, tmp_path):
    """Two workers registering on one line at the same moment (two cameras' jobs): each
    takes its own number, whichever renames its folder first."""
    first = registry.base_version(_model(tmp_path))
    stray = registry.root / first.name / "2"  # a version folder of a registration in flight
    stray.mkdir()
    (stray / "model.onnx").write_bytes(b"not registered yet")
    candidate = Candidate(_model(tmp_path, "candidate"), tmp_path / "candidate.pt", {})

    def register() -> str:
        with Store() as store:
            return (
                Registry(store, isolated_home)
                .register(first.name, candidate, parent_id=first.id)
                .version
            )

    with ThreadPoolExecutor(2) as pool:
        versions = sorted(pool.map(lambda _: register(), range(2)))
    assert versions == ["3", "4"]
    assert sorted(v.version for v in registry.versions(first.name)) == ["1", "3", "4"]
    assert not list((registry.root / first.name).glob(f"{STAGING_PREFIX}*"))


def test_two_processes_starting_on_the_bundled_model_share_its_first_version(
    registry, isolated_home, tmp_path
):
    """Two instances opened at once on a new data folder: one version 1, used by both."""
    onnx = _model(tmp_path)

    def first_version() -> int:
        with Store() as store:
            return Registry(store, isolated_home).base_version(onnx).id

    with ThreadPoolExecutor(2) as pool:
        ids = set(pool.map(lambda _: first_version(), range(2)))
    assert len(ids) == 1 and len(registry.versions("tvdesk-base")) == 1
    folders = [p.name for p in (registry.root / "tvdesk-base").iterdir()]
    assert folders == [registry.versions("tvdesk-base")[0].version]
