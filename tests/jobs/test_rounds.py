"""Refinement rounds on a real queue (local, Redis with a worker of the same data folder, or
Redis with the training on a worker in a data folder of its own, as on another machine):
after its first promotion the job goes on with the frames the camera captures next, round
after round, each gated and registered with the last promoted version as its parent; stopped
after a round, resumed after a killed worker, ended by a full disk or by its budget with the
last promoted version live. (The swap of each round's version: test_demo_loop.)"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator

import pytest
from disk_faults import fill, tmpfs
from huey import MemoryHuey
from remote_support import approved_remotely, training_worker
from retrain_support import (
    camera_version,
    redis_server,
    release_frames,
    tiny_settings,
    wait_for,
    worker_process,
)

from jobs.queue import JobQueue, open_queue
from tvdesk.core.registry import Registry
from tvdesk.core.store.job import JobState
from tvdesk.retrain.context import request_retrain, stop_job

pytestmark = pytest.mark.slow


def _refining(base_yaml, **changes):
    """Tiny rounds that go on whatever they gain, until something else ends the job."""
    return tiny_settings(base_yaml, **{"refine_minutes": 60.0, "round_min_gain": -1.0, **changes})


def _collecting(round_: int):
    """The job's round `round_` waits for frames of the condition."""
    return lambda job: (
        job.state == JobState.RUNNING
        and job.result.get("round") == round_
        and job.stage == "select"
    )


def _lineage(store, home) -> list[tuple[str, str | None]]:
    versions = Registry(store, home).versions()
    names = {v.id: v.version for v in versions}
    return [(v.version, names.get(v.parent_id)) for v in versions]


def _three_rounds_then_stop(store, job_id: int, long_stream, live_capture):
    """Let the camera play on into rounds 2 and 3, stop the job after round 3; the job ended."""
    wait_for(store, job_id, _collecting(2))
    release_frames(long_stream, live_capture, range(100, 140))  # the camera plays on
    wait_for(store, job_id, _collecting(3))
    stop_job(store, job_id, after_round=True)
    release_frames(long_stream, live_capture, range(140, 190))
    return wait_for(store, job_id, lambda j: j.state.finished)


@pytest.fixture(params=["local", "redis"])
def queue_url(request, tmp_path) -> Iterator[str]:
    """The local SQLite queue, or a real redis-server."""
    if request.param == "local":
        yield ""
        return
    with redis_server(tmp_path, "rounds-pw") as url:
        yield url


def test_rounds_go_on_from_the_last_promoted_version_until_stopped_after_one(
    isolated_home, store, live_capture, long_stream, captured, base_yaml, queue_url
):
    job = request_retrain(store, captured[1], live_capture, _refining(base_yaml))
    open_queue(url=queue_url).submit_retrain(job.id)
    with worker_process(isolated_home, queue_url=queue_url):
        done = _three_rounds_then_stop(store, job.id, long_stream, live_capture)

    assert done.state == JobState.SUCCEEDED, done.message
    assert done.message.startswith("round 3: tvdesk-base version 4 is live on camera")
    assert done.message.endswith("; stopped by the operator after round 3")
    assert _lineage(store, isolated_home) == [("1", None), ("2", "1"), ("3", "2"), ("4", "3")]
    assert camera_version(store, isolated_home).version == "4"
    rounds = done.result["rounds"]
    assert [(r["round"], r["promoted"], r["model_version"]) for r in rounds] == [
        (1, True, "2"),
        (2, True, "3"),
        (3, True, "4"),
    ]
    assert all(r["gate"]["promote"] and r["metrics"]["candidate"]["drift"] for r in rounds)
    assert len({r["data_md5"] for r in rounds}) == 3  # each round a new dataset version
    workspace = isolated_home / "jobs" / f"job-{job.id}"
    later = [row["index"] for row in json.loads((workspace / "selection-2.json").read_text())]
    assert later and all(100 <= i < 140 for i in later)  # round 2 learnt from new frames
    dataset = isolated_home / "data" / "datasets" / f"job-{job.id}" / "images"
    for prefix in ("new_0", "new_r1_", "new_r2_"):  # every round's frames, on both sides
        assert list(dataset.glob(f"train/{prefix}*")) and list(dataset.glob(f"val/{prefix}*"))


def test_rounds_go_on_with_the_training_on_another_machine(
    isolated_home, store, live_capture, long_stream, captured, base_yaml, tmp_path
):
    """The app collects, labels and versions each round's frames; a training worker in its
    own data folder trains each round from the last promoted version and gates it against
    the rounds so far; the app registers each version and queues the next round."""
    settings = _refining(base_yaml)
    with (
        redis_server(tmp_path, "rounds-remote-pw") as url,
        training_worker(tmp_path, url) as worker,
        approved_remotely(store, (live_capture, captured[1]), settings, url, isolated_home) as job,
    ):
        done = _three_rounds_then_stop(store, job.id, long_stream, live_capture)

    assert done.state == JobState.SUCCEEDED, done.message
    assert done.message.startswith("round 3: tvdesk-base version 4 is live on camera")
    assert done.message.endswith("; stopped by the operator after round 3")
    assert _lineage(store, isolated_home) == [("1", None), ("2", "1"), ("3", "2"), ("4", "3")]
    rounds = done.result["rounds"]
    assert [(r["round"], r["promoted"], r["parent_id"]) for r in rounds] == [
        (1, True, 1),
        (2, True, rounds[0]["model_id"]),
        (3, True, rounds[1]["model_id"]),
    ]
    assert len({r["data_md5"] for r in rounds}) == 3  # each round a new dataset version
    assert done.result["remote_worker"]["pid"] == worker.pid
    train = done.result["train_params"]
    assert train["seed"] == settings.seed + 2  # the worker knew it trained round 3
    log = (worker.home / "worker-test.log").read_text()
    assert log.count("candidate sent") == 3 and str(isolated_home) not in log


def test_a_killed_worker_resumes_its_round(
    isolated_home, store, live_capture, long_stream, captured, base_yaml
):
    job = request_retrain(store, captured[1], live_capture, _refining(base_yaml))
    open_queue().submit_retrain(job.id)
    with worker_process(isolated_home) as worker:
        wait_for(store, job.id, _collecting(2))
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    stop_job(store, job.id, after_round=True)
    with worker_process(isolated_home):
        resumed = wait_for(store, job.id, lambda j: j.result.get("resumed") == 2, timeout=60)
        assert "killed or crashed); round 2 goes on from select" in resumed.message
        release_frames(long_stream, live_capture, range(100, 140))
        done = wait_for(store, job.id, lambda j: j.state.finished)

    assert done.state == JobState.SUCCEEDED, done.message
    assert done.message.endswith("stopped by the operator after round 2")
    assert _lineage(store, isolated_home) == [("1", None), ("2", "1"), ("3", "2")]
    assert camera_version(store, isolated_home).version == "3"


def test_a_round_that_meets_a_full_disk_leaves_the_last_promoted_version_live(
    isolated_home, store, live_capture, long_stream, captured, base_yaml
):
    job = request_retrain(store, captured[1], live_capture, _refining(base_yaml))
    with tmpfs(isolated_home / "jobs" / f"job-{job.id}", "64m") as workspace:
        open_queue().submit_retrain(job.id)
        with worker_process(isolated_home):
            wait_for(store, job.id, _collecting(2))
            fill(workspace)
            release_frames(long_stream, live_capture, range(100, 140))
            done = wait_for(store, job.id, lambda j: j.state.finished)

    assert done.state == JobState.FAILED, done.message
    assert done.message.startswith("round 2 failed during ")
    assert "No space left on device" in done.message
    assert done.message.endswith("; version 2 (round 1) stays live")
    assert _lineage(store, isolated_home) == [("1", None), ("2", "1")]
    assert camera_version(store, isolated_home).version == "2"


def test_the_budget_ends_the_job_with_its_last_promotion(isolated_home, store, captured, base_yaml):
    """In-process (Huey's immediate mode): a budget that round 1 spends ends the job there."""
    settings = _refining(base_yaml, refine_minutes=0.001)
    job = request_retrain(store, captured[1], captured[0], settings)
    JobQueue(MemoryHuey("tvdesk-rounds", immediate=True)).submit_retrain(job.id)
    done = store.jobs.get(job.id)
    assert done.state == JobState.SUCCEEDED, done.message
    assert "; the fine-tuning budget is spent (" in done.message
    assert [r["round"] for r in done.result["rounds"]] == [1]
    assert camera_version(store, isolated_home).version == "2"
