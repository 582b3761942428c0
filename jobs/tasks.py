"""The Huey tasks: one thin task per retraining stage, chained by `JobQueue.submit_retrain`.

Each task runs its stage (`tvdesk.retrain.runner`) and hands the job id to the next. A
stopped job (failed, cancelled, or kept by the gate) ends the chain; frames waiting for review
are looked at again later.
"""

from __future__ import annotations

from collections.abc import Callable

from huey import Huey
from huey.api import TaskWrapper
from huey.exceptions import CancelExecution, RetryTask

from tvdesk.retrain.context import JobContext
from tvdesk.retrain.labelers import ReviewPending
from tvdesk.retrain.runner import STAGE_NAMES, run_stage

REVIEW_POLL_S = 10.0


def stage_task(stage: str, function: Callable[[JobContext], None] | None = None):
    """The task of `stage` (run by `function` in place of the stage's own, if given)."""

    def task(job_id: int) -> int:
        try:
            proceed = run_stage(stage, job_id, function=function)
        except ReviewPending:
            raise RetryTask(delay=REVIEW_POLL_S) from None
        if not proceed:
            raise CancelExecution(retry=False)
        return job_id

    task.__name__ = task.__qualname__ = stage
    task.__doc__ = f"Retraining stage {stage!r} of a job."
    return task


def register_tasks(huey: Huey) -> dict[str, TaskWrapper]:
    """The stage tasks on `huey`, in pipeline order, named so any process finds them."""
    return {
        stage: huey.task(name=f"tvdesk.retrain.{stage}")(stage_task(stage)) for stage in STAGE_NAMES
    }
