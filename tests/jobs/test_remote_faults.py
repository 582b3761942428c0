"""Remote training that cannot go ahead: a payload over the limit, a training queue that
cannot be reached, a worker of another tvdesk version. Each fails the job with one sentence
that says what to do, and leaves the active model as it was. The app's side runs in this
process here (a local queue that runs its tasks at once); the worker is a real process."""

from __future__ import annotations

import json
import socket

import pytest
from huey import MemoryHuey
from remote_support import job_keys, training_worker
from retrain_support import free_port, redis_server, tiny_settings, wait_for

from jobs.queue import QUEUE_ENV, JobQueue, QueueUnavailableError, open_queue
from jobs.remote.link import TrainingQueue
from jobs.remote.pipeline import RemoteTasks, attach
from jobs.remote.relay import Relay
from jobs.retraining import approve_retraining
from tvdesk.config import Settings, save_settings
from tvdesk.core.store.job import JobState
from tvdesk.retrain.context import JobContext, request_retrain
from tvdesk.retrain.remote import payload
from tvdesk.retrain.remote.payload import IncompatibleJobError, check_manifest, job_payload

PASSWORD = "faults-pw-never-shown"


@pytest.fixture
def local(isolated_home) -> RemoteTasks:
    """The app's side of remote jobs on a local queue that runs each task at once."""
    return attach(JobQueue(MemoryHuey("tvdesk-remote-test", immediate=True)))


def _queued(store, captured, base_yaml, local: RemoteTasks):
    job = request_retrain(store, captured[1], captured[0], tiny_settings(base_yaml))
    local.submit(job.id)
    return store.jobs.get(job.id)


def test_the_payload_is_the_versioned_dataset_and_names_no_path_of_the_app(
    isolated_home, store, captured, base_yaml, local, tmp_path, monkeypatch
):
    monkeypatch.setenv(QUEUE_ENV, f"redis://127.0.0.1:{free_port()}/0")  # dispatch fails: fine
    job = _queued(store, captured, base_yaml, local)
    ctx = JobContext(store, isolated_home, job.id)
    sent = job_payload(ctx)
    dataset = isolated_home / "data" / "datasets" / f"job-{job.id}"
    images = sorted(p.relative_to(dataset) for p in dataset.glob("images/*/*.jpg"))
    shipped = [n.removeprefix("dataset/") for n in sent.files if n.startswith("dataset/images")]
    assert sorted(shipped) == [str(p) for p in images]
    base = [n for n in sent.files if n.startswith("base/")]
    assert base and all(n.split("/")[2] == "val" for n in base)  # the gate's split only
    assert sent.files["parent/model.pt"].name == "model.pt"
    text = json.dumps(sent.manifest)
    assert str(isolated_home) not in text and str(base_yaml.parent) not in text
    assert sent.manifest["settings"]["base_data"] == "data.yaml"
    assert sent.manifest["data_md5"] == job.result["data_md5"]


def test_a_payload_over_the_limit_fails_the_job(
    isolated_home, store, captured, base_yaml, local, tmp_path, monkeypatch
):
    save_settings(Settings(remote_max_mb=1.0))
    with redis_server(tmp_path, PASSWORD) as url:
        monkeypatch.setenv(QUEUE_ENV, url)
        failed = _queued(store, captured, base_yaml, local)
        sent = list(open_queue(url=url).huey.storage.conn.scan_iter("tvdesk:remote:*"))
    assert failed.state == JobState.FAILED and failed.stage == "train"
    assert failed.message.startswith("train failed: this job's data is ")
    assert "MB, more than the 1 MB that remote_max_mb in settings.toml lets through the " in (
        failed.message
    )
    assert failed.message.endswith("or lower the job's label_budget, replay or relit")
    assert sent == []  # nothing went to the queue
    assert [m.version for m in store.models.all()] == ["1"]


def test_an_unreachable_training_queue_fails_the_job_or_the_approval(
    isolated_home, store, captured, base_yaml, local, monkeypatch
):
    port = free_port()
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    monkeypatch.setenv(QUEUE_ENV, url)
    failed = _queued(store, captured, base_yaml, local)  # Redis went away after the approval
    assert failed.state == JobState.FAILED
    assert failed.message == (
        f"train failed: cannot reach the training queue redis://:***@127.0.0.1:{port}/0 "
        "(ConnectionError): start Redis there, or unset TVDESK_QUEUE to train on this machine"
    )
    with pytest.raises(QueueUnavailableError, match=r"cannot reach the job queue redis://:\*\*\*"):
        approve_retraining(
            store, captured[1], captured[0], tiny_settings(base_yaml), data_dir=isolated_home
        )
    assert len(store.jobs.all()) == 1  # the approval recorded nothing
    assert [m.version for m in store.models.all()] == ["1"]


def test_a_manifest_of_another_format_or_settings_is_refused_with_both_versions():
    manifest = {"protocol": 99, "tvdesk": "9.0", "settings": {}}
    with pytest.raises(IncompatibleJobError, match=r"cannot run a job from tvdesk 9\.0 \(job fo"):
        check_manifest(manifest)
    newer = {"protocol": payload.PROTOCOL, "tvdesk": "9.0", "settings": {"warp_drive": 1}}
    with pytest.raises(IncompatibleJobError, match=r"unknown retraining setting\(s\) warp_drive"):
        check_manifest(newer)


@pytest.mark.slow
def test_a_worker_of_another_version_refuses_the_job(
    isolated_home, store, captured, base_yaml, local, tmp_path, monkeypatch
):
    ours, protocol = payload.tvdesk_version(), payload.PROTOCOL  # the worker's
    monkeypatch.setattr(payload, "PROTOCOL", protocol + 1)  # the app is newer
    monkeypatch.setattr(payload, "tvdesk_version", lambda: "9.9.9")
    with redis_server(tmp_path, PASSWORD) as url, training_worker(tmp_path, url) as worker:
        monkeypatch.setenv(QUEUE_ENV, url)
        relay = Relay(TrainingQueue.from_env(), isolated_home, local.queue_register, local.submit)
        relay.start()
        try:
            job = _queued(store, captured, base_yaml, local)
            failed = wait_for(store, job.id, lambda j: j.state.finished, timeout=300)
        finally:
            relay.stop()
            relay.join(10)
        keys = job_keys(url)
        assert worker.poll() is None  # refusing is not dying
    assert failed.state == JobState.FAILED and keys == []
    assert failed.message == (
        f"train failed: the training worker on {socket.gethostname()} refused it: this worker "
        f"runs tvdesk {ours} (job format {protocol}) and cannot run a job from tvdesk 9.9.9 "
        f"(job format {protocol + 1}): install the same tvdesk version on the app's machine and "
        "the training machine"
    )
    assert [m.version for m in store.models.all()] == ["1"]
