"""One retraining job as its stages see it: the store row, the settings, a work folder.

Every state change goes to the store at once, so the GUI, the CLI and a remote worker see the
same truth. A stop is a state the operator writes (`stop_job`): before the job's first
promotion it cancels the job, after it the job ends keeping the last promoted version; stages
notice it through `checkpoint`. "Stop after this round" is a mark the round's end reads.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from tvdesk.config import RetrainSettings
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.processes import process_alive
from tvdesk.core.registry import Registry
from tvdesk.core.store import Camera, Store, StoreError
from tvdesk.core.store.job import Job, JobState
from tvdesk.core.store.model_version import ModelVersion

logger = logging.getLogger(__name__)

KIND = "retrain"
# Each stage's share of the job's overall progress: (start, end).
STAGES: dict[str, tuple[float, float]] = {
    "select": (0.0, 0.1),
    "label": (0.1, 0.2),
    "dataset": (0.2, 0.3),
    "train": (0.3, 0.85),
    "evaluate": (0.85, 0.95),
    "register": (0.95, 1.0),
}
CHECK_INTERVAL_S = 1.0  # how often a long stage looks for a cancel in the store


class JobStopped(Exception):  # noqa: N818 - control flow: the job ended, the rest is skipped
    """The job is finished (cancelled, failed or done early): later stages must not run."""


class NextRound(Exception):  # noqa: N818 - control flow: the round ended, the job goes on
    """This round is over and the job goes on with another: its stages run again."""


def job_workspace(data_dir: Path, job_id: int) -> Path:
    """The work folder of job `job_id` under the app data folder."""
    return data_dir / "jobs" / f"job-{job_id}"


def job_frames(data_dir: Path, job_id: int) -> Path:
    """The job's own links to its drift event's captured frames (a capture folder's layout),
    made when its selection starts, so the capture ring cannot take them from under it."""
    return job_workspace(data_dir, job_id) / "captured"


class JobContext:
    """The job `job_id` in `store`, its settings, and its work folder under `data_dir`."""

    def __init__(self, store: Store, data_dir: Path, job_id: int) -> None:
        self.store = store
        self.data_dir = data_dir
        self.id = job_id
        self.stage = ""
        self._checked = 0.0
        self.settings = RetrainSettings.from_dict(self.job.params["settings"])
        self.workspace = job_workspace(data_dir, job_id)
        self.workspace.mkdir(parents=True, exist_ok=True)

    @property
    def job(self) -> Job:
        return self.store.jobs.get(self.id)

    @property
    def result(self) -> dict[str, Any]:
        return self.job.result

    @property
    def round(self) -> int:
        """1 for the first training, 2... for the refinement rounds after it."""
        return int(self.result.get("round", 1))

    def begin(self, stage: str) -> None:
        """Mark `stage` running; raises JobStopped when the job already ended."""
        job = self.job
        if job.state.finished:
            raise JobStopped(f"job {self.id} is {job.state}; skipping {stage}")
        self.stage = stage
        worker = {"host": socket.gethostname(), "pid": os.getpid()}
        state = None if job.state == JobState.RUNNING else JobState.RUNNING  # first start kept
        self.store.jobs.update(
            self.id,
            state=state,
            stage=stage,
            progress=STAGES[stage][0],
            message=f"{stage}...",
            merged={"worker": worker},
        )

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Progress within the current stage (0..1); also a cancel checkpoint."""
        start, end = STAGES[self.stage]
        self.store.jobs.update(self.id, progress=start + (end - start) * fraction, message=message)
        self.checkpoint(force=True)

    def checkpoint(self, force: bool = False) -> None:
        """Raise JobStopped if the operator stopped the job (reads the store at most once a
        second): "stopped" once it has ended keeping a promoted version, else "cancelled" (as
        a remote worker, which sees no state, says it)."""
        if self.cancel_requested(force):
            how = "stopped" if self.job.state == JobState.SUCCEEDED else "cancelled"
            raise JobStopped(f"job {self.id} was {how} during {self.stage}")

    def cancel_requested(self, force: bool = False) -> bool:
        """The job was cancelled, or stopped keeping its last promoted version."""
        now = time.monotonic()
        if not force and now - self._checked < CHECK_INTERVAL_S:
            return False
        self._checked = now
        return self.job.state.finished

    def remember(self, **values: Any) -> None:
        """Merge `values` into the job's result (what later stages and the UI read); a None
        value removes its key."""
        self.store.jobs.update(self.id, merged=values)

    def finish(self, message: str, **values: Any) -> None:
        self.store.jobs.update(
            self.id, state=JobState.SUCCEEDED, progress=1.0, message=message, merged=values
        )

    def round_ends_elsewhere(self) -> bool:
        """Whether the end of a round the gate kept is decided elsewhere (a training worker's
        context tells the app, which holds the job's rounds, and stops here); False: the
        caller ends it (`rounds.end_round`)."""
        return False

    def fail(self, error: BaseException) -> None:
        job = self.job
        if job.state.finished:  # cancelled meanwhile: that is the outcome to keep
            return
        text = str(error) or type(error).__name__
        where = f"{self.stage or 'start'} failed"
        if job.result.get("round", 1) > 1:
            where = f"round {job.result['round']} failed during {self.stage}"
        self.store.jobs.update(
            self.id, state=JobState.FAILED, message=f"{where}: {text}{kept_live(job)}"
        )

    def drift_event(self) -> DriftEvent:
        event_id = self.job.params["event_id"]
        for event in self.store.drift_events.all():
            if event.id == event_id:
                return event
        raise StoreError(f"drift event {event_id} is not in the database")

    @property
    def capture_dir(self) -> Path:
        return Path(self.job.params["capture_dir"])

    def camera(self) -> Camera:
        """The camera whose drift this job repairs: its line gets the new version."""
        camera_id = self.job.params.get("camera_id")
        if camera_id is None:
            raise StoreError(
                f"job {self.id} names no camera (queued by an older tvdesk); "
                "approve the drift alarm again"
            )
        return self.store.cameras.get(camera_id)

    def active_version(self) -> ModelVersion:
        """The version the job's camera runs: what the fine-tune starts from."""
        return Registry(self.store, self.data_dir).version_of(self.camera())

    def parent_version(self) -> ModelVersion:
        """The version the job's fine-tune started from (its train stage recorded it)."""
        return Registry(self.store, self.data_dir).get(self.result["parent_id"])


def request_retrain(
    store: Store,
    event: DriftEvent,
    capture_dir: Path,
    settings: RetrainSettings,
    camera_id: int | None = None,
) -> Job:
    """A queued retraining job for `event` of camera `camera_id` (default: the camera whose
    session raised it); the caller then submits it to the queue. The new version goes on that
    camera's line and only that camera runs it."""
    if camera_id is None and event.id is not None:
        camera_id = store.drift_events.camera_of(event.id)
    return store.jobs.create(
        KIND,
        {
            "event_id": event.id,
            "camera_id": camera_id,
            "capture_dir": str(capture_dir),
            "settings": settings.as_dict(),
        },
    )


def kept_live(job: Job) -> str:
    """'; version 3 (round 2) stays live' once the job has promoted a version, else ''."""
    result = job.result
    if result.get("model_version") is None:
        return ""
    return f"; version {result['model_version']} (round {result.get('model_round', 1)}) stays live"


def cancel_job(store: Store, job_id: int) -> Job:
    """Stop a job now: a queued job never starts, a running one stops within seconds. Before
    its first promotion the job is cancelled; after it, it ends with the last promoted
    version live (the round in progress is dropped)."""
    return stop_job(store, job_id)


def stop_job(store: Store, job_id: int, *, after_round: bool = False) -> Job:
    """Stop a job now (see `cancel_job`), or with `after_round` once the round in progress
    has been gated (and its version swapped in, if it passes)."""
    job = store.jobs.get(job_id)
    if job.state.finished:
        return job
    if after_round:
        return store.jobs.update(job_id, merged={"stop_after_round": True})
    where = job.stage or "queue"
    if job.result.get("model_version") is None:
        return store.jobs.update(
            job_id, state=JobState.CANCELLED, message=f"cancelled by the operator during {where}"
        )
    return store.jobs.update(
        job_id,
        state=JobState.SUCCEEDED,
        message=f"stopped by the operator during round {job.result.get('round', 1)} "
        f"({where}){kept_live(job)}",
    )


def recover_interrupted(store: Store, host: str | None = None) -> tuple[list[Job], list[Job]]:
    """The jobs a dead worker process of this machine left running: (failed, resumed).

    A job that has promoted a version and whose round was not resumed before is resumed at
    the stage it was in (the caller queues it, with this process as its worker); any other
    ends, its last promoted version (if any) live."""
    host = host or socket.gethostname()
    failed, resumed = [], []
    for job in store.jobs.all(JobState.RUNNING):
        worker = job.result.get("worker", {})
        if worker.get("host") != host or _alive(int(worker.get("pid", 0))):
            continue
        logger.warning("job %d: its worker (pid %s) is gone", job.id, worker.get("pid"))
        round_ = job.result.get("round", 1)
        gone = f"the worker stopped while {job.stage or 'the job'} ran (killed or crashed)"
        if job.result.get("model_version") is not None and job.result.get("resumed") != round_:
            resumed.append(
                store.jobs.update(
                    job.id,
                    message=f"{gone}; round {round_} goes on from {job.stage}",
                    merged={"resumed": round_, "worker": {"host": host, "pid": os.getpid()}},
                )
            )
            continue
        if job.result.get("model_version") is None:
            why = f"{gone}; the active model is unchanged: start the retraining again"
        else:
            why = f"{gone}, again in round {round_}{kept_live(job)}"
        failed.append(store.jobs.update(job.id, state=JobState.FAILED, message=why))
    return failed, resumed


def _alive(pid: int) -> bool:
    return process_alive(pid) and pid != os.getpid()
