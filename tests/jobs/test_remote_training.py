"""Training on another machine, end to end: a real redis-server (with a password; over TLS in
the first test), the app's data folder and each training worker's data folder apart, every
worker a separate `python -m jobs.worker` process, the app's side in its own local worker
process as the app starts it. The job's state is read from the app's store only."""

from __future__ import annotations

import json
import time

import pytest
from remote_support import approved_remotely, job_keys, kill, training_by, training_worker
from retrain_support import (
    TINY_IMGSZ,
    camera_version,
    job_text,
    redis_server,
    tiny_settings,
    wait_for,
)

from jobs.queue import open_queue
from jobs.retraining import RetrainApprover
from tvdesk.config import Settings
from tvdesk.core.registry import Registry
from tvdesk.core.session.events import ModelPromoted, SwapDone
from tvdesk.core.store import Camera, Store
from tvdesk.core.store.camera import SYNTHETIC_KIND
from tvdesk.core.store.job import JobState
from tvdesk.demo.headless import DemoOptions, HeadlessDemo
from tvdesk.retrain.context import cancel_job
from tvdesk.retrain.dataset import data_version

pytestmark = pytest.mark.slow

PASSWORD = "remote-pw-never-shown"


def _finished(job) -> bool:
    return job.state.finished


def test_a_worker_in_its_own_folder_trains_and_the_playing_camera_swaps_it_in(
    isolated_home, tiny_model, base_yaml, tmp_path
):
    """The headless loop (a LiveSession playing the synthetic camera) approves its alarm's
    retraining onto a TLS Redis queue with a password; a worker in another data folder trains
    it; the app registers the candidate and the session swaps it in."""
    with Store() as store:
        first = Registry(store, isolated_home).base_version(tiny_model)
    options = DemoOptions(
        day_s=24.0, fade_s=2.0, fps=4.0, after_swap_s=5.0, baseline_s=15.0, max_job_s=400.0
    )
    settings = Settings(data_dir=isolated_home, model_path=tiny_model)
    with redis_server(tmp_path, PASSWORD, tls=True) as url, training_worker(tmp_path, url) as w:
        approver = RetrainApprover(
            tiny_settings(base_yaml), isolated_home, queue=open_queue(url=url)
        )
        try:
            run = HeadlessDemo(options, settings, approver).run()
        finally:
            approver.stop_workers()
        keys = job_keys(url)
    kinds = [type(t.event) for t in run.events]
    assert run.outcome == "new model shown" and ModelPromoted in kinds, (run.outcome, kinds)
    swap = next(t.event.swap for t in run.events if isinstance(t.event, SwapDone))
    assert swap.accepted and run.records[-1].model_version == swap.new_version

    with Store() as store:
        job = store.jobs.all()[0]
        active = camera_version(store, isolated_home)
        text = job_text(store)
    r = job.result
    assert job.state == JobState.SUCCEEDED and r["promoted"], job.message
    assert (active.parent_id, active.id) == (first.id, r["model_id"])
    # Trained by the worker process, on the device it says, the epochs streamed back.
    assert r["remote_worker"]["pid"] == w.pid and r["remote_worker"]["device"] == "cpu"
    assert r["device"] == "cpu" and r["train_params"]["device"] == "cpu"
    assert r["epochs"][0]["epoch"] == 1 and r["remote"]["attempt"] == 1
    assert r["remote"]["data_mb"] > 0 and r["remote"]["received_mb"] > 0
    # The dataset the app versioned is the one the version records; its card names the worker.
    dvc_file = isolated_home / "data" / "datasets" / f"job-{job.id}.dvc"
    assert active.data_md5 == data_version(dvc_file) == r["data_md5"]
    card = json.loads(active.path.with_name("card.json").read_text())
    assert card["trained_by"]["pid"] == w.pid
    assert card["data"]["yaml"].startswith(str(isolated_home))
    assert active.params["start_from"].startswith(str(isolated_home))
    # The worker knew none of the app's paths and kept nothing of the job; Redis neither.
    log = (w.home / "worker-test.log").read_text()
    assert "candidate sent" in log and str(isolated_home) not in log
    assert not any((w.home / "remote-jobs").iterdir()) and keys == []
    assert PASSWORD not in log and PASSWORD not in text


def test_a_killed_worker_hands_the_job_to_another(
    isolated_home, store, captured, base_yaml, tmp_path
):
    settings = tiny_settings(base_yaml, epochs=20, patience=20)
    with (
        redis_server(tmp_path, PASSWORD) as url,
        approved_remotely(store, captured, settings, url, isolated_home) as job,
    ):
        with training_worker(tmp_path, url, "first") as first:
            wait_for(store, job.id, lambda j: training_by(j, first.pid), timeout=300)
            kill(first)
        with training_worker(tmp_path, url, "second") as second:
            done = wait_for(store, job.id, _finished, timeout=400)
    assert done.state == JobState.SUCCEEDED, done.message
    remote = done.result["remote"]
    assert remote["attempt"] == 2 and [w["pid"] for w in remote["lost"]] == [first.pid]
    assert remote["lost"][0]["stage"] == "train"
    assert done.result["remote_worker"]["pid"] == second.pid
    assert camera_version(store, isolated_home).version == "2"


def test_a_job_whose_workers_both_die_fails_and_keeps_the_model(
    isolated_home, store, captured, base_yaml, tmp_path
):
    settings = tiny_settings(base_yaml, epochs=50, patience=50)
    pids = []
    with (
        redis_server(tmp_path, PASSWORD) as url,
        approved_remotely(store, captured, settings, url, isolated_home) as job,
    ):
        for name in ("first", "second"):
            with training_worker(tmp_path, url, name) as worker:
                wait_for(store, job.id, lambda j, w=worker: training_by(j, w.pid), timeout=300)
                pids.append(worker.pid)
                kill(worker)
        failed = wait_for(store, job.id, _finished, timeout=60)
    assert failed.state == JobState.FAILED
    assert failed.message.startswith("train failed: the training workers stopped, on ")
    assert all(f"(pid {pid})" in failed.message for pid in pids)
    assert "the active model is unchanged" in failed.message
    assert [m.version for m in store.models.all()] == ["1"]


def test_cancel_reaches_the_remote_worker(isolated_home, store, captured, base_yaml, tmp_path):
    settings = tiny_settings(base_yaml, epochs=50, patience=50)
    with (
        redis_server(tmp_path, PASSWORD) as url,
        training_worker(tmp_path, url) as worker,
        approved_remotely(store, captured, settings, url, isolated_home) as job,
    ):
        wait_for(store, job.id, lambda j: training_by(j, worker.pid), timeout=300)
        asked = time.monotonic()
        cancel_job(store, job.id)
        log = worker.home / "worker-test.log"
        while f"job {job.id} was cancelled during train" not in log.read_text():
            assert time.monotonic() - asked < 30, "the worker did not stop within 30 s"
            time.sleep(0.2)
        stopped_after = time.monotonic() - asked
        stopped = wait_for(store, job.id, lambda j: j.result["remote"]["state"] == "stopped")
        assert worker.poll() is None  # the worker lives on for the next job
    assert stopped.state == JobState.CANCELLED and len(stopped.result["epochs"]) < 50
    assert stopped_after < 15.0
    assert [m.version for m in store.models.all()] == ["1"]


def test_two_workers_train_two_cameras_at_once(isolated_home, store, captured, base_yaml, tmp_path):
    """Each camera's job goes to a worker of its own, at the same time; each camera gets its
    own new version, the other camera's untouched by it."""
    first_camera = store.cameras.named(SYNTHETIC_KIND)
    second_camera = store.cameras.add(
        Camera("second", "synthetic:2", "synthetic:2", SYNTHETIC_KIND, first_camera.line, 1)
    )
    settings = tiny_settings(base_yaml, epochs=6, patience=6)
    with (
        redis_server(tmp_path, PASSWORD) as url,
        training_worker(tmp_path, url, "a") as a,
        training_worker(tmp_path, url, "b") as b,
        approved_remotely(store, captured, settings, url, isolated_home) as one,
        approved_remotely(store, captured, settings, url, isolated_home, second_camera.id) as two,
    ):
        done = [wait_for(store, job.id, _finished, timeout=400) for job in (one, two)]
    assert [job.state for job in done] == [JobState.SUCCEEDED] * 2, [j.message for j in done]
    remotes = [job.result["remote"] for job in done]
    assert {job.result["remote_worker"]["pid"] for job in done} == {a.pid, b.pid}
    assert max(r["claimed_at"] for r in remotes) < min(r["closed_at"] for r in remotes)
    versions = {store.cameras.get(c.id).model_id for c in (first_camera, second_camera)}
    assert versions == {job.result["model_id"] for job in done} and 1 not in versions
    assert done[0].result["train_params"]["imgsz"] == TINY_IMGSZ


def test_a_candidate_the_gate_keeps_on_the_worker_ends_the_job_at_the_app(
    isolated_home, store, captured, base_yaml, tmp_path
):
    """The worker gates its candidate; the app, which holds the job's rounds, ends it."""
    settings = tiny_settings(base_yaml, min_gain=1.0)  # no fine-tune gains a whole mAP50
    with (
        redis_server(tmp_path, PASSWORD) as url,
        training_worker(tmp_path, url) as worker,
        approved_remotely(store, captured, settings, url, isolated_home) as job,
    ):
        done = wait_for(store, job.id, _finished, timeout=400)
    assert done.state == JobState.SUCCEEDED and not done.result["promoted"], done.message
    assert done.message.startswith("kept the active model"), done.message
    assert done.result["remote"]["state"] == "kept"
    assert done.result["remote_worker"]["pid"] == worker.pid
    assert [r["round"] for r in done.result["rounds"]] == [1]
    assert [m.version for m in store.models.all()] == ["1"]
