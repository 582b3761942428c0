"""Approve a retraining: the one call the GUI's "Approve" button and `tvdesk retrain` share.

It records the job in the store, queues its stages, and starts a local worker process when the
queue is local and none is running, so nothing has to be started by hand. `RetrainApprover`
is what a live session is given to plan and queue the retrainings of its cameras.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from jobs.queue import JobQueue, open_queue
from jobs.remote.pipeline import attach
from jobs.worker import local_worker_running, start_local_worker
from tvdesk.config import RetrainSettings, default_data_dir, load_settings
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.session.events import RetrainPlan
from tvdesk.core.store import Camera, Store
from tvdesk.core.store.job import Job
from tvdesk.retrain.context import request_retrain
from tvdesk.retrain.plan import retrain_plan, settings_for

logger = logging.getLogger(__name__)
WORKER_STOP_S = 30.0


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
    camera_id: int | None = None,
    queue: JobQueue | None = None,
    start_worker: bool = True,
    data_dir: Path | None = None,
    traffic_imgsz: int | None = None,
) -> Approved:
    """Queue a retraining of `event` (seen by camera `camera_id`); raises
    QueueUnavailableError before recording anything when the queue cannot be reached. A real
    camera's model trains at the size the camera plays at (`traffic_imgsz` unless the camera
    has its own; None = the settings file's)."""
    data_dir = data_dir or default_data_dir()
    if traffic_imgsz is None:
        traffic_imgsz = load_settings().traffic_imgsz
    queue = queue or open_queue(data_dir)
    queue.check()
    if camera_id is None and event.id is not None:
        camera_id = store.drift_events.camera_of(event.id)
    camera = store.cameras.get(camera_id) if camera_id is not None else None
    settings = settings_for(camera, settings, traffic_imgsz)
    job = request_retrain(store, event, capture_dir, settings, camera_id)
    if queue.url:  # trained by a worker on the Redis queue; prepared and registered here
        attach(open_queue(data_dir, url="")).submit(job.id)
    else:
        queue.submit_retrain(job.id)
    worker = None
    if start_worker and not local_worker_running(data_dir):
        worker = start_local_worker(data_dir, training_url=queue.url)
        logger.info("started a local worker (pid %d) for job %d", worker.pid, job.id)
    return Approved(job, queue.description, worker)


@dataclass
class RetrainApprover:
    """Plans and queues retrainings with `settings` in the app data folder `data_dir`; keeps
    the local workers it started, so that whoever owns them can stop them."""

    settings: RetrainSettings
    data_dir: Path
    start_worker: bool = True
    queue: JobQueue | None = None
    traffic_imgsz: int | None = None  # the real cameras' input size (None: the settings file's)
    workers: list[subprocess.Popen] = field(default_factory=list)

    def plan(self, camera: Camera | None, frames_available: int | None = None) -> RetrainPlan:
        if self.traffic_imgsz is None:
            self.traffic_imgsz = load_settings().traffic_imgsz
        settings = settings_for(camera, self.settings, self.traffic_imgsz)
        return retrain_plan(settings, frames_available)

    def approve(
        self,
        store: Store,
        event: DriftEvent,
        capture_dir: Path,
        camera: Camera,
        labels: str | None = None,
    ) -> Approved:
        settings = self.settings
        if labels:
            labeler = "review" if settings.labeler == "review" else "import"
            settings = settings.with_changes(labeler=labeler, import_dir=labels)
        approved = approve_retraining(
            store,
            event,
            capture_dir,
            settings,
            camera_id=camera.id,
            queue=self.queue,
            start_worker=self.start_worker,
            data_dir=self.data_dir,
            traffic_imgsz=self.traffic_imgsz,
        )
        if approved.worker is not None:
            self.workers.append(approved.worker)
        return approved

    def stop_workers(self) -> None:
        """End the local workers this approver started (a demo's own data folder)."""
        for worker in self.workers:
            worker.terminate()
            try:
                worker.wait(WORKER_STOP_S)
            except subprocess.TimeoutExpired:
                worker.kill()
