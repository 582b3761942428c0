"""The app's `train` stage of a job that trains on another machine: send its payload to the
training queue and queue it for a worker. The relay follows it from there."""

from __future__ import annotations

import logging
import time
import uuid

from jobs.remote.carrier import MB, check_size, file_refs, total_mb
from jobs.remote.link import TrainingQueue
from tvdesk.config import load_settings
from tvdesk.retrain.context import JobContext
from tvdesk.retrain.remote.payload import job_payload

logger = logging.getLogger(__name__)

TOO_LARGE_ADVICE = (
    "raise it (Redis holds the data in memory until the worker has it), or lower the job's "
    "label_budget, replay or relit"
)


def dispatch(ctx: JobContext, training: TrainingQueue | None = None) -> None:
    """Send job `ctx`'s payload (after its dataset stage) and queue its training."""
    training = training or TrainingQueue.from_env()
    payload = job_payload(ctx)
    refs = file_refs(payload.files)
    limit = load_settings().remote_max_mb
    check_size(refs, limit, "this job's data", TOO_LARGE_ADVICE)
    where = training.description
    ctx.progress(0.0, f"sending {total_mb(refs):.1f} MB of job data to {where}")
    started = time.monotonic()
    sent = training.carrier.put_files(payload.files, refs)
    ticket = uuid.uuid4().hex
    training.carrier.put_manifest(ticket, {**payload.manifest, "files": refs, "max_mb": limit})
    seconds = round(time.monotonic() - started, 2)
    ctx.checkpoint(force=True)
    training.submit(ticket, 1)
    remote = {
        "ticket": ticket,
        "queue": where,
        "attempt": 1,
        "state": "queued",
        "files": len(refs),
        "data_mb": round(total_mb(refs), 2),
        "sent_mb": round(sent / MB, 2),  # the rest was on the queue already (shared files)
        "send_s": seconds,
    }
    ctx.remember(remote=remote, worker={"queue": where, "ticket": ticket})
    ctx.progress(0.0, f"waiting for a training worker on {where}")
    logger.info(
        "job %d queued for training on %s as %s: %.1f MB, %.1f MB sent in %.1f s",
        ctx.id,
        where,
        ticket,
        total_mb(refs),
        sent / MB,
        seconds,
    )
