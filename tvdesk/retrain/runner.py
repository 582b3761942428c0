"""Run one stage of a retraining job against the store of the app data folder.

This is all a queue task does: open the store, run the stage, and turn what happened into the
job's state. A failure is recorded with its message; a cancel or an early end (the gate kept
the active model) stops the chain quietly; the end of a round that the job goes on from asks
for its stages to run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from tvdesk.config import default_data_dir
from tvdesk.core.store import Store, database_path
from tvdesk.retrain.context import JobContext, JobStopped, NextRound
from tvdesk.retrain.labelers import ReviewPending
from tvdesk.retrain.stages import STAGE_FUNCTIONS

logger = logging.getLogger(__name__)

STAGE_NAMES = tuple(STAGE_FUNCTIONS)


class StageOutcome(StrEnum):
    """What the queue does after a stage."""

    NEXT = "next"  # run the job's next stage
    STOPPED = "stopped"  # the job ended (done, failed, cancelled, kept): its chain ends
    NEW_ROUND = "new round"  # a round ended and the job goes on: run its stages again


def run_stage(
    stage: str,
    job_id: int,
    data_dir: Path | None = None,
    function: Callable[[JobContext], None] | None = None,
) -> StageOutcome:
    """Run `stage` of job `job_id` (with `function` in place of the stage's own: a job that
    trains on another machine); what the queue should do next.

    Raises ReviewPending when frames wait for a person (the caller retries later).
    """
    data_dir = data_dir or default_data_dir()
    with Store(database_path(data_dir)) as store:
        ctx = JobContext(store, data_dir, job_id)
        try:
            ctx.begin(stage)
            logger.info("job %d: %s (round %d)", job_id, stage, ctx.round)
            (function or STAGE_FUNCTIONS[stage])(ctx)
        except JobStopped as exc:
            logger.info("job %d stopped: %s", job_id, exc)
            return StageOutcome.STOPPED
        except NextRound as exc:
            logger.info("%s", exc)
            return StageOutcome.NEW_ROUND
        except ReviewPending as exc:
            ctx.store.jobs.update(job_id, message=f"{exc}; label them in the review dialog")
            raise
        except Exception as exc:
            if ctx.job.state.finished:
                logger.info("job %d stopped during %s", job_id, stage)
                return StageOutcome.STOPPED
            logger.exception("job %d failed during %s", job_id, stage)
            ctx.fail(exc)
            return StageOutcome.STOPPED
    return StageOutcome.NEXT
