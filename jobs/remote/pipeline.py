"""How remote jobs run on the app's local queue, and what each kind of worker serves.

A job that trains on another machine runs its first stages where its frames are, on the app's
local queue (select, label, dataset), then `dispatch` sends it to the training queue; the
relay follows it there and, once its candidate is back, queues the app's `register` stage
here. The task names are fixed, so that any local worker finds them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from huey.api import TaskWrapper

from jobs.queue import QUEUE_ENV, JobQueue
from jobs.remote.dispatch import dispatch
from jobs.remote.link import TrainingQueue
from jobs.remote.relay import Relay
from jobs.remote.training import register_training_task
from jobs.tasks import stage_task
from tvdesk.retrain.remote.received import register_received

logger = logging.getLogger(__name__)

LOCAL_STAGES = ("select", "label", "dataset")  # where the frames are; then dispatch


@dataclass(frozen=True)
class RemoteTasks:
    """The app's side of remote jobs on its local queue `local`."""

    local: JobQueue
    dispatch: TaskWrapper
    register: TaskWrapper

    def submit(self, job_id: int) -> None:
        """Queue job `job_id`'s stages on the local queue, up to sending it for training."""
        chain = self.local.tasks[LOCAL_STAGES[0]].s(job_id)
        for stage in LOCAL_STAGES[1:]:
            chain = chain.then(self.local.tasks[stage])
        self.local.huey.enqueue(chain.then(self.dispatch))
        logger.info(
            "queued retraining job %d on %s, to train remotely", job_id, self.local.description
        )

    def queue_register(self, job_id: int) -> None:
        self.local.huey.enqueue(self.register.s(job_id))


def attach(local: JobQueue) -> RemoteTasks:
    """Register the app's remote-job tasks on the local queue `local`."""
    huey = local.huey
    return RemoteTasks(
        local,
        huey.task(name="tvdesk.remote.dispatch")(stage_task("train", function=dispatch)),
        huey.task(name="tvdesk.remote.register")(
            stage_task("register", function=register_received)
        ),
    )


def serve(queue: JobQueue, data_dir: Path) -> Relay | None:
    """Register what a worker consuming `queue` runs of remote jobs: on a Redis queue the
    training; on the local queue the app's side, and (when TVDESK_QUEUE names a training
    queue) the relay, started here; the caller stops it."""
    if not queue.local:
        register_training_task(queue)
        return None
    tasks = attach(queue)
    if not os.environ.get(QUEUE_ENV):
        return None
    relay = Relay(TrainingQueue.from_env(), data_dir, tasks.queue_register)
    relay.start()
    return relay
