"""The retraining pipeline end to end: a real worker process consuming a real queue, real DVC,
real Ultralytics training, evaluation and export, and the registry it ends in."""

from __future__ import annotations

import json

import pytest
from retrain_support import (
    camera_version,
    job_text,
    redis_server,
    tiny_settings,
    wait_for,
    worker_process,
)

from jobs.queue import open_queue
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.drift.reference import ReferenceProfile
from tvdesk.core.registry import Registry
from tvdesk.core.store.job import JobState
from tvdesk.retrain.context import request_retrain
from tvdesk.retrain.dataset import data_version, dataset_versions, dvc_status

pytestmark = pytest.mark.slow


def test_local_queue_promotes_a_registered_versioned_model(
    isolated_home, store, captured, base_yaml
):
    capture, event = captured
    job = request_retrain(store, event, capture, tiny_settings(base_yaml))
    open_queue().submit_retrain(job.id)
    with worker_process(isolated_home):
        done = wait_for(store, job.id, lambda j: j.state.finished)

    assert done.state == JobState.SUCCEEDED, done.message
    assert done.progress == 1.0 and done.stage == "register"
    result = done.result
    assert result["selected"] == 6 and result["labelled"] == 6 and result["boxes"] > 0
    assert result["epochs"][0]["epoch"] == 1  # per-epoch progress was stored
    # The dataset is a DVC version in the app data folder, pushed to the local remote.
    dvc_file = isolated_home / "data" / "datasets" / f"job-{job.id}.dvc"
    assert result["data_md5"] == data_version(dvc_file)
    assert dvc_status(isolated_home, dvc_file) == {}
    assert result["pushed_files"] > 0 and any((isolated_home / "dvc-remote").rglob("*"))
    assert [v.md5 for v in dataset_versions(isolated_home)] == [result["data_md5"]]
    # The base images relit to the night of the same camera went in beside the night frames.
    train = isolated_home / "data" / "datasets" / f"job-{job.id}" / "images" / "train"
    assert result["relit"] == len(list(train.glob("relit_*.jpg"))) > 0
    assert result["relit_view_similarity"] >= 0.25 and result["relit_mean_gain"] < 0.5
    # The new version: active, with its parent, data version, parameters and metrics.
    registry = Registry(store, isolated_home)
    model = camera_version(store, isolated_home)
    assert (model.version, model.parent_id, model.data_md5) == ("2", 1, result["data_md5"])
    assert model.params["epochs"] == 1 and model.metrics["drift"]["map50"] >= 0.0
    folder = model.path.parent
    card = json.loads((folder / "card.json").read_text())
    int8 = ["model.int8.onnx"] if card["int8"]["passed"] else []  # the verdict, pass or fail
    assert sorted(p.name for p in folder.iterdir()) == [
        "card.json",
        *int8,
        "model.onnx",
        "model.pt",
        "profile.json",
    ]
    assert result["int8_passed"] == card["int8"]["passed"] and card["int8"]["map50"]
    # The version went live in fp32 first; its int8 copy was made and recorded after.
    log = (isolated_home / "worker-test.log").read_text()
    live, int8 = log.index("registered tvdesk-base version 2 for camera"), log.index("int8 copy")
    assert live < int8 and result["int8_seconds"] > 0
    assert card["data"]["dvc_md5"] == result["data_md5"] and card["drift_profile"]
    # The drift profile is of the camera's images only, not of the relit ones.
    camera_images = [
        p for p in train.parent.parent.rglob("*.jpg") if not p.name.startswith("relit_")
    ]
    assert ReferenceProfile.load(folder / "profile.json").frames == len(camera_images)
    assert OnnxDetector(model.path).names == ["car", "truck", "bus", "motorcycle"]
    assert registry.rollback(store.cameras.named("synthetic").id).version == "1"


def test_redis_queue_runs_the_job_and_a_failed_gate_keeps_the_active_model(
    isolated_home, store, captured, base_yaml, tmp_path
):
    capture, event = captured
    password = "s3cret-pw-do-not-log"
    with redis_server(tmp_path, password) as url:
        settings = tiny_settings(base_yaml, min_gain=0.5)
        job = request_retrain(store, event, capture, settings)
        open_queue(url=url).submit_retrain(job.id)
        with worker_process(isolated_home, queue_url=url):
            done = wait_for(store, job.id, lambda j: j.state.finished)

    assert done.state == JobState.SUCCEEDED and done.result["promoted"] is False
    assert done.message.startswith("kept the active model: the candidate gains")
    assert "0.500 is needed" in done.message
    assert [m.version for m in Registry(store, isolated_home).versions()] == ["1"]
    assert camera_version(store, isolated_home).version == "1"
    log = (isolated_home / "worker-test.log").read_text()
    assert "consuming redis://:***@127.0.0.1" in log  # the worker names its queue, masked
    assert password not in log and password not in job_text(store)
