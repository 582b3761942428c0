"""The Huey tasks: one thin task per retraining stage, chained by `pipeline`.

Each task runs its stage (`tvdesk.retrain.runner`) and hands the job id to the next. A
stopped job (failed, cancelled, or kept by the gate) ends the chain; a round after which the
job goes on queues the stages again; frames waiting for review are looked at again later.
"""

from __future__ import annotations

from collections.abc import Callable

from huey import Huey
from huey.api import TaskWrapper
from huey.exceptions import CancelExecution, RetryTask

from tvdesk.retrain.context import JobContext
from tvdesk.retrain.labelers import ReviewPending
from tvdesk.retrain.runner import STAGE_NAMES, StageOutcome, run_stage

REVIEW_POLL_S = 10.0


def stage_task(
    stage: str,
    new_round: Callable[[int], None] | None = None,
    function: Callable[[JobContext], None] | None = None,
):
    """The task of `stage` (run by `function` in place of the stage's own, if given);
    `new_round(job_id)` queues the job's stages again when a round ends and the job goes on."""

    def task(job_id: int) -> int:
        try:
            outcome = run_stage(stage, job_id, function=function)
        except ReviewPending:
            raise RetryTask(delay=REVIEW_POLL_S) from None
        if outcome == StageOutcome.NEW_ROUND and new_round is not None:
            new_round(job_id)
        if outcome != StageOutcome.NEXT:
            raise CancelExecution(retry=False)
        return job_id

    task.__name__ = task.__qualname__ = stage
    task.__doc__ = f"Retraining stage {stage!r} of a job."
    return task


def register_tasks(huey: Huey) -> dict[str, TaskWrapper]:
    """The stage tasks on `huey`, in pipeline order, named so any process finds them."""
    tasks: dict[str, TaskWrapper] = {}

    def new_round(job_id: int) -> None:
        huey.enqueue(pipeline(tasks, job_id))

    for stage in STAGE_NAMES:
        tasks[stage] = huey.task(name=f"tvdesk.retrain.{stage}")(stage_task(stage, new_round))
    return tasks


def pipeline(tasks: dict[str, TaskWrapper], job_id: int, first: str | None = None):
    """The stage tasks of job `job_id` chained, from stage `first` (default: the first)."""
    names = list(tasks)
    names = names[names.index(first) :] if first else names
    chain = tasks[names[0]].s(job_id)
    for name in names[1:]:
        chain = chain.then(tasks[name])
    return chain
