"""The app's link to its training queue: the Redis queue, its carrier and the training task."""

from __future__ import annotations

import os
from dataclasses import dataclass

from huey.api import TaskWrapper

from jobs.queue import QUEUE_ENV, JobQueue, open_queue
from jobs.remote.carrier import Carrier, CarrierError
from jobs.remote.training import register_training_task


@dataclass(frozen=True)
class TrainingQueue:
    """A Redis job queue on which `tvdesk worker`s on other machines train this app's jobs."""

    queue: JobQueue
    carrier: Carrier
    task: TaskWrapper

    @classmethod
    def on(cls, queue: JobQueue) -> TrainingQueue:
        carrier = Carrier(queue.huey.storage.conn, queue.description)
        return cls(queue, carrier, register_training_task(queue))

    @classmethod
    def from_env(cls) -> TrainingQueue:
        """The queue TVDESK_QUEUE names; CarrierError with what to do when it names none."""
        url = os.environ.get(QUEUE_ENV, "")
        queue = open_queue(url=url) if url else None
        if queue is None or queue.local:
            raise CarrierError(
                "this job trains on a Redis queue, but this worker was started without "
                f"{QUEUE_ENV}: stop it (the app starts another) and approve the retraining again"
            )
        return cls.on(queue)

    @property
    def description(self) -> str:
        return self.queue.description

    def submit(self, ticket: str, attempt: int) -> None:
        """Queue attempt `attempt` of job `ticket` for a training worker."""
        with self.carrier.reaching():
            self.queue.huey.enqueue(self.task.s(ticket, attempt))
