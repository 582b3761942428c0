"""The relay: the app's side of its jobs that train on other machines, while they train.

A thread of the app's local worker. It reads the event streams of every job the store shows
queued or training remotely, and writes what their workers report (stage, progress, epochs,
metrics, the gate's verdict, which worker on which device) into the store, so the jobs panel
and `tvdesk jobs` show a remote job as they show a local one. It takes the candidate when it
comes, and queues the app's register stage; when the gate kept the active model, it ends the
round here, where the job's rounds are, and queues the next round's stages if the job goes
on. It passes an operator's cancel on to the worker,
and when a worker stops renewing its lease it queues the job once more for another worker,
or fails it, saying why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from jobs.remote.carrier import LEASE_S, MB, Event
from jobs.remote.link import TrainingQueue
from tvdesk.core.store import Store, database_path
from tvdesk.core.store.job import Job, JobState
from tvdesk.retrain import rounds
from tvdesk.retrain.context import STAGES, JobContext, JobStopped, NextRound

logger = logging.getLogger(__name__)

READ_BLOCK_MS = 1000  # the longest the relay waits for an event before it looks again
IDLE_S = 1.0  # with no remote job in flight, how often the store is looked at
ERROR_WAIT_S = 5.0
MAX_ATTEMPTS = 2  # a job whose worker dies is queued once more, then failed
OPEN = ("queued", "claimed")  # remote states the relay follows


class RemoteJobError(RuntimeError):
    """What a training worker reported as its job's failure (or its own loss)."""


class Relay(threading.Thread):
    """Follows the remote jobs of the app data folder `data_dir` on `training`; `register`
    queues a job's register stage on the local queue once its candidate is here,
    `next_round` the stages of a job's next round after a round the gate kept."""

    def __init__(
        self,
        training: TrainingQueue,
        data_dir: Path,
        register: Callable[[int], None],
        next_round: Callable[[int], None],
    ) -> None:
        super().__init__(daemon=True, name="tvdesk-relay")
        self.training = training
        self.data_dir = data_dir
        self.register = register
        self.next_round = next_round
        self._halt = threading.Event()
        self._last_error = ""

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        logger.info("following remote jobs on %s", self.training.description)
        with Store(database_path(self.data_dir)) as store:
            while not self._halt.is_set():
                try:
                    self.step(store)
                    self._last_error = ""
                except Exception as exc:  # the loop outlives a Redis restart or a bad event
                    if str(exc) != self._last_error:
                        logger.exception("remote jobs: %s", exc)
                    self._last_error = str(exc)
                    self._halt.wait(ERROR_WAIT_S)

    def step(self, store: Store) -> None:
        """Pass on cancels, read and apply what came, look at the workers' leases."""
        for job in _stopped_here(store):
            self._pass_stop_on(store, job)
        jobs = _in_flight(store)
        if not jobs:
            self._halt.wait(IDLE_S)
            return
        after = {_remote(j)["ticket"]: _remote(j).get("last_event", "0-0") for j in jobs}
        events = self.training.carrier.read(after, READ_BLOCK_MS)
        for job in jobs:
            ticket = _remote(job)["ticket"]
            followed = FollowedJob(
                store, self.data_dir, job, self.training, self.register, self.next_round
            )
            followed.apply([e for e in events if e.ticket == ticket])

    def _pass_stop_on(self, store: Store, job: Job) -> None:
        """The operator cancelled the job (or it failed here): the worker stops too."""
        remote = _remote(job)
        self.training.carrier.request_cancel(remote["ticket"])
        JobContext(store, self.data_dir, job.id).remember(remote={**remote, "state": "stopped"})
        logger.info("job %d: asked the training worker to stop", job.id)


class FollowedJob:
    """One remote job as the relay moves it on: its context in the app's store and its
    remote state (ticket, attempt, last event seen, workers lost)."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        job: Job,
        training: TrainingQueue,
        register: Callable[[int], None],
        next_round: Callable[[int], None],
    ) -> None:
        self.store, self.job, self.training = store, job, training
        self.register, self.next_round = register, next_round
        self.ctx = JobContext(store, data_dir, job.id)
        self.ctx.stage = job.stage
        self.remote = dict(_remote(job))

    def apply(self, events: list[Event]) -> None:
        try:
            for event in events:
                if event.attempt == self.remote["attempt"]:
                    getattr(self, f"on_{event.kind}")(event)
                self.remote["last_event"] = event.id
                if self.remote["state"] not in OPEN:
                    break
            if self.remote["state"] == "claimed":
                self._check_lease()
        except JobStopped:  # cancelled meanwhile: the next step passes it on
            pass
        self.ctx.remember(remote=self.remote)

    # -- what a worker reports ----------------------------------------------------------------

    def on_claimed(self, event: Event) -> None:
        worker = event.data["worker"]
        self.remote.update(state="claimed", claimed_at=time.time())
        self.ctx.remember(remote_worker=worker)  # not `worker`: no local pid to recover
        logger.info("job %d: taken by %s (pid %s)", self.job.id, worker["host"], worker["pid"])

    def on_stage(self, event: Event) -> None:
        stage = event.data["stage"]
        self.ctx.stage = stage
        self.store.jobs.update(
            self.job.id, stage=stage, progress=STAGES[stage][0], message=f"{stage}..."
        )

    def on_progress(self, event: Event) -> None:
        self.ctx.progress(float(event.data["fraction"]), event.data.get("message"))

    def on_remember(self, event: Event) -> None:
        self.ctx.remember(**event.data["values"])

    def on_finished(self, event: Event) -> None:
        """The worker ended the job."""
        self.ctx.finish(event.data["message"], **event.data["values"])
        self._close("finished")

    def on_kept(self, event: Event) -> None:
        """The gate kept the active model (its figures came in `remember`): end the round
        here, and queue the next one's stages when the job goes on."""
        self._close("kept")
        try:
            rounds.end_round(self.ctx)
        except NextRound as exc:
            logger.info("%s", exc)
            self.next_round(self.job.id)

    def on_done(self, event: Event) -> None:
        """The candidate is on the queue: take it, and queue the app's register stage."""
        from tvdesk.retrain.remote.received import received_folder

        refs = event.data["files"]
        self.ctx.progress(0.9, "receiving the candidate")
        started = time.monotonic()
        received = self.training.carrier.get_files(refs, received_folder(self.ctx))
        self.remote["received_mb"] = round(received / MB, 2)
        self.remote["receive_s"] = round(time.monotonic() - started, 2)
        worker = {k: event.data[k] for k in ("worker_sent_mb", "worker_sent_s")}
        self.ctx.remember(**worker)
        self.training.carrier.forget_files(refs)
        self._close("received")
        self.register(self.job.id)

    def on_failed(self, event: Event) -> None:
        self.ctx.stage = event.data.get("stage") or self.ctx.stage
        self._fail(event.data["message"], "failed")

    def on_refused(self, event: Event) -> None:
        self._fail(event.data["message"], "refused")

    def on_cancelled(self, event: Event) -> None:
        self._close("stopped")

    # -- a worker that is gone ----------------------------------------------------------------

    def _check_lease(self) -> None:
        lease = self.training.carrier.lease(self.remote["ticket"])
        if lease is not None and lease.get("attempt") == self.remote["attempt"]:
            return
        worker = self.ctx.result.get("remote_worker", {})
        lost = [*self.remote.get("lost", []), {**worker, "stage": self.ctx.stage}]
        self.remote["lost"] = lost
        gone = (
            f"the training worker on {worker.get('host', '?')} (pid {worker.get('pid', '?')}) "
            f"stopped during {self.ctx.stage} (no heartbeat for {LEASE_S:g} s)"
        )
        logger.warning("job %d: %s", self.job.id, gone)
        if self.remote["attempt"] >= MAX_ATTEMPTS:
            where = ", then ".join(f"{w.get('host')} (pid {w.get('pid')})" for w in lost)
            self._fail(
                f"the training workers stopped, on {where}: killed, crashed or cut off from "
                "the queue; the active model is unchanged: start the retraining again",
                "lost",
            )
            return
        self._queue_again(gone)

    def _queue_again(self, gone: str) -> None:
        ticket, attempt = self.remote["ticket"], self.remote["attempt"] + 1
        self.training.carrier.set_attempt(ticket, attempt)
        self.training.submit(ticket, attempt)
        self.remote.update(attempt=attempt, state="queued")
        queue = self.training.description
        self.ctx.remember(epochs=[])  # the next worker trains anew
        self.store.jobs.update(
            self.job.id, message=f"{gone}; queued again for another worker on {queue}"
        )

    def _fail(self, message: str, state: str) -> None:
        self.ctx.fail(RemoteJobError(message))
        self._close(state)

    def _close(self, state: str) -> None:
        self.remote.update(state=state, closed_at=time.time())
        self.training.carrier.forget(self.remote["ticket"])


def _remote(job: Job) -> dict:
    return job.result.get("remote", {})


def _in_flight(store: Store) -> list[Job]:
    """Running jobs of this app on the training queue, waiting for a worker or training."""
    return [j for j in store.jobs.all(JobState.RUNNING) if _remote(j).get("state") in OPEN]


def _stopped_here(store: Store) -> list[Job]:
    """Jobs cancelled (or failed) on the app's side while their worker may still train."""
    stopped = store.jobs.all(JobState.CANCELLED) + store.jobs.all(JobState.FAILED)
    return [j for j in stopped if _remote(j).get("state") in OPEN]
