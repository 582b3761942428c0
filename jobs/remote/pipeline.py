"""How remote jobs run on the app's local queue, and what each kind of worker serves.

A job that trains on another machine runs its first stages where its frames are, on the app's
local queue (select, label, dataset), then `dispatch` sends it to the training queue; the
relay follows it there and, once its candidate is back, queues the app's `register` stage
here. A round after which the job goes on (refinement) queues the same stages again, from
`select`. The task names are fixed, so that any local worker finds them.
"""

from __future__ import annotations

import functools
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
        queue_local_stages(self.local, self.dispatch, job_id)

    def queue_register(self, job_id: int) -> None:
        self.local.huey.enqueue(self.register.s(job_id))


def queue_local_stages(local: JobQueue, dispatch_task: TaskWrapper, job_id: int) -> None:
    """Queue job `job_id`'s stages (of its round) on `local`, up to `dispatch_task`."""
    chain = local.tasks[LOCAL_STAGES[0]].s(job_id)
    for stage in LOCAL_STAGES[1:]:
        chain = chain.then(local.tasks[stage])
    local.huey.enqueue(chain.then(dispatch_task))
    logger.info("queued retraining job %d on %s, to train remotely", job_id, local.description)


def attach(local: JobQueue) -> RemoteTasks:
    """Register the app's remote-job tasks on the local queue `local`."""
    huey = local.huey
    send = huey.task(name="tvdesk.remote.dispatch")(stage_task("train", function=dispatch))
    next_round = functools.partial(queue_local_stages, local, send)
    register = huey.task(name="tvdesk.remote.register")(
        stage_task("register", next_round, function=register_received)
    )
    return RemoteTasks(local, send, register)


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
    relay = Relay(TrainingQueue.from_env(), data_dir, tasks.queue_register, tasks.submit)
    relay.start()
    return relay
