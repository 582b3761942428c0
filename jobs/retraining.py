"""Approve a retraining: the one call the GUI's "Approve" button and `tvdesk retrain` share.

It records the job in the store, queues its stages, and starts a local worker process when the
queue is local and none is running, so nothing has to be started by hand.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jobs.queue import JobQueue, open_queue
from jobs.worker import local_worker_running, start_local_worker
from tvdesk.config import RetrainSettings, default_data_dir
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.store import Store
from tvdesk.core.store.job import Job
from tvdesk.retrain.context import request_retrain

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Approved:
    job: Job
    queue: str  # where it was queued (a Redis URL is masked)
    worker: subprocess.Popen | None  # the local worker started for it, if one was


def approve_retraining(
    store: Store,
    event: DriftEvent,
    capture_dir: Path,
    settings: RetrainSettings,
    *,
    queue: JobQueue | None = None,
    start_worker: bool = True,
    data_dir: Path | None = None,
) -> Approved:
    """Queue a retraining of `event`; raises QueueUnavailableError before recording anything
    when the queue cannot be reached."""
    data_dir = data_dir or default_data_dir()
    queue = queue or open_queue(data_dir)
    queue.check()
    job = request_retrain(store, event, capture_dir, settings)
    queue.submit_retrain(job.id)
    worker = None
    if start_worker and queue.local and not local_worker_running(data_dir):
        worker = start_local_worker(data_dir)
        logger.info("started a local worker (pid %d) for job %d", worker.pid, job.id)
    return Approved(job, queue.description, worker)
