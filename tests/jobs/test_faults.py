"""Faults of the retraining pipeline: a killed worker, a training error, a cancel, and a Redis
queue that cannot be reached. Each leaves the registry and the active model as they were."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time

import pytest
from retrain_support import (
    camera_version,
    free_port,
    run_command,
    tiny_settings,
    wait_for,
    worker_process,
)

from jobs.queue import QueueUnavailableError, open_queue
from jobs.worker import local_worker_running, start_local_worker
from tvdesk.commands import retrain
from tvdesk.config import Settings, save_settings
from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.session.frame_loop import FrameLoop
from tvdesk.core.sources import SyntheticSource
from tvdesk.core.store.job import JobState
from tvdesk.retrain.context import cancel_job, request_retrain

pytestmark = pytest.mark.slow


def _in_training(job) -> bool:
    return job.stage == "train" and job.state == JobState.RUNNING


def _model_files(home) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in (home / "models").rglob("*"))


def test_killed_worker_fails_the_job_and_leaves_the_registry_untouched(
    isolated_home, store, captured, base_yaml
):
    before = _model_files(isolated_home)
    job = request_retrain(store, captured[1], captured[0], tiny_settings(base_yaml, epochs=50))
    open_queue().submit_retrain(job.id)
    with worker_process(isolated_home) as worker:
        wait_for(store, job.id, _in_training)
        time.sleep(2.0)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    assert store.jobs.get(job.id).state == JobState.RUNNING  # nobody has noticed yet
    with worker_process(isolated_home):
        failed = wait_for(store, job.id, lambda j: j.state.finished, timeout=60)
    assert failed.state == JobState.FAILED
    assert "worker stopped while train ran" in failed.message
    assert "active model is unchanged" in failed.message
    assert _model_files(isolated_home) == before  # no new version, no half-written folder
    assert camera_version(store, isolated_home).version == "1"


def test_a_training_error_fails_the_job_with_its_text(
    isolated_home, store, captured, base_yaml, capsys
):
    """Through `tvdesk retrain --wait`, which also starts the local worker process; the tiny
    training comes from the settings file's [retrain] table."""
    active = camera_version(store, isolated_home)
    active.path.with_name("model.pt").write_bytes(b"this is not a checkpoint")
    save_settings(Settings(retrain=tiny_settings(base_yaml)))
    try:
        code = run_command(
            retrain, "retrain", "--event", "1", "--capture", str(captured[0]), "--wait"
        )
    finally:
        out = capsys.readouterr().out
        pid = int(re.search(r"local worker \(pid (\d+)", out).group(1))
        assert local_worker_running(isolated_home)  # its pid file names a live process
        os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):  # reaped already by subprocess
            os.waitpid(pid, 0)
    assert code == 1 and not local_worker_running(isolated_home)
    failed = store.jobs.get(1)
    assert failed.state == JobState.FAILED and failed.stage == "train"
    assert failed.message.startswith("train failed: ")
    assert len(failed.message) > len("train failed: ") + 10  # the error's own text follows
    assert failed.message in out  # --wait showed it
    assert camera_version(store, isolated_home).id == active.id
    assert len(store.models.all()) == 1


def test_cancel_stops_training_within_seconds(isolated_home, store, captured, base_yaml):
    job = request_retrain(store, captured[1], captured[0], tiny_settings(base_yaml, epochs=50))
    open_queue().submit_retrain(job.id)
    with worker_process(isolated_home):
        # Cancel once batches are running: Ultralytics' set-up (model, data scan, loader
        # processes) has no callback in it, so a cancel there waits for the first batch.
        wait_for(store, job.id, lambda j: _in_training(j) and j.result.get("epochs"))
        asked = time.monotonic()
        cancel_job(store, job.id)
        log = isolated_home / "worker-test.log"
        deadline = asked + 20.0
        while f"job {job.id} was cancelled during train" not in log.read_text():
            assert time.monotonic() < deadline, "training did not stop within 20 s"
            time.sleep(0.1)
        stopped_after = time.monotonic() - asked
    cancelled = store.jobs.get(job.id)
    assert cancelled.state == JobState.CANCELLED, cancelled.message
    assert stopped_after < 8.0
    assert len(cancelled.result.get("epochs", [])) < 50
    assert [m.version for m in store.models.all()] == ["1"]


def test_unreachable_redis_is_a_clear_error_and_playback_goes_on(tiny_model):
    password = "hunter2-never-shown"
    url = f"redis://:{password}@127.0.0.1:{free_port()}/0"
    loop = FrameLoop(
        SyntheticSource("day", fps=5.0, size=(256, 144), paced=False),
        DetectorSlot(OnnxDetector(tiny_model)),
        every_frame=True,
    )
    loop.start()
    try:
        queue = open_queue(url=url)
        with pytest.raises(QueueUnavailableError) as caught:
            queue.submit_retrain(1)
        frames_then = loop.frames
        time.sleep(0.5)
        assert loop.running and loop.frames > frames_then  # the player never noticed
    finally:
        loop.stop(5.0)
    message = str(caught.value)
    assert "cannot reach the job queue redis://:***@127.0.0.1" in message
    assert "Playback is not affected" in message and password not in message


def test_a_worker_counts_as_running_as_soon_as_it_is_started(isolated_home):
    """Two approvals in a row (two cameras) must start one local worker, not two: two would
    each follow the remote jobs and register a candidate twice."""
    worker = start_local_worker(isolated_home)
    try:
        assert local_worker_running(isolated_home)  # before the child has loaded anything
    finally:
        worker.terminate()
        worker.wait(30)
