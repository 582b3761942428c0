"""What the remote-training tests share: a retraining approved onto a Redis training queue
(the app's own local worker process started for it, and stopped after), a training worker's
data folder apart from the app's, and a look at what Redis still holds."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import redis
from retrain_support import worker_process

from jobs.queue import open_queue
from jobs.retraining import approve_retraining
from tvdesk.config import RetrainSettings
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.store import Store
from tvdesk.core.store.job import Job, JobState


@contextlib.contextmanager
def approved_remotely(
    store: Store,
    captured: tuple[Path, DriftEvent],
    settings: RetrainSettings,
    url: str,
    home: Path,
    camera_id: int | None = None,
) -> Iterator[Job]:
    """Approve a retraining of `captured`'s event on the training queue `url`; yields its
    job while the app's local worker (started by the approval) runs."""
    capture, event = captured
    queue = open_queue(url=url)
    approved = approve_retraining(
        store, event, capture, settings, camera_id=camera_id, queue=queue, data_dir=home
    )
    try:
        yield approved.job
    finally:
        if approved.worker is not None:
            approved.worker.terminate()
            approved.worker.wait(15)


@contextlib.contextmanager
def training_worker(tmp_path: Path, url: str, name: str = "worker") -> Iterator:
    """A training worker process in a data folder of its own, beside none of the app's."""
    home = tmp_path / f"{name}-home"
    home.mkdir()
    with worker_process(home, queue_url=url) as process:
        process.home = home
        yield process


def kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


def training_by(job: Job, pid: int) -> bool:
    """`job` is in its train stage on the worker `pid`, some epochs done."""
    worker = job.result.get("remote_worker", {})
    return (
        job.state == JobState.RUNNING
        and job.stage == "train"
        and worker.get("pid") == pid
        and worker.get("attempt") == job.result.get("remote", {}).get("attempt")
        and bool(job.result.get("epochs"))
    )


def job_keys(url: str) -> list[str]:
    """The keys of remote jobs Redis still holds (their leases run out by themselves)."""
    conn = redis.Redis.from_url(url)
    keys = [key.decode() for key in conn.scan_iter("tvdesk:remote:job:*")]
    return sorted(key for key in keys if not key.endswith(":lease"))
