"""The training machine's side of a remote retraining: the Huey task `tvdesk.remote.train`.

`tvdesk worker` with TVDESK_QUEUE=redis://... consumes it. For a job (its ticket) it takes
the job's lease and keeps it alive from a thread, refuses a job of another tvdesk's format,
fetches the payload into its own data folder (`remote-jobs/<ticket>/`), runs the train,
evaluate and export stages with a `RemoteContext` and sends the candidate back. Everything it
has to say goes to the job's event stream; it never opens the app's database or a path of the
app's, and removes its copy of the job when it is done.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

from huey.api import TaskWrapper

from jobs.queue import JobQueue
from jobs.remote.carrier import MB, Carrier, CarrierError, check_size, file_refs, total_mb
from tvdesk.config import default_data_dir
from tvdesk.core import atomic
from tvdesk.retrain import stages
from tvdesk.retrain.context import JobStopped
from tvdesk.retrain.remote.context import RemoteContext
from tvdesk.retrain.remote.payload import (
    RESULT_NAMES,
    IncompatibleJobError,
    check_manifest,
    lay_out,
    tvdesk_version,
)

logger = logging.getLogger(__name__)

TRAINING_TASK = "tvdesk.remote.train"  # name and arguments (ticket, attempt) never change
HEARTBEAT_S = 2.0  # how often the lease is renewed (it lasts carrier.LEASE_S)
JOBS_FOLDER = "remote-jobs"
TERMINAL = ("done", "kept", "failed", "cancelled", "refused", "finished")
POST_TRIES = 5  # a terminal event is retried (1, 2, 4, 8 s apart) if the queue is cut off


def register_training_task(queue: JobQueue) -> TaskWrapper:
    """The training task on `queue` (a Redis queue), for this process to run or to queue."""
    carrier = Carrier(queue.huey.storage.conn, queue.description)

    def train_remotely(ticket: str, attempt: int) -> None:
        run_remote_job(carrier, ticket, attempt, default_data_dir())

    return queue.huey.task(name=TRAINING_TASK)(train_remotely)


class QueueSink:
    """Job `ticket`'s event stream, as attempt `attempt` writes it; a stop is a cancel or a
    newer attempt (another worker took the job over)."""

    def __init__(self, carrier: Carrier, ticket: str, attempt: int) -> None:
        self.carrier, self.ticket, self.attempt = carrier, ticket, attempt

    def post(self, kind: str, **data: Any) -> None:
        """Send an event; progress is dropped when the queue is cut off, an outcome retried."""
        tries = POST_TRIES if kind in TERMINAL else 1
        for number in range(tries):
            try:
                self.carrier.post(self.ticket, self.attempt, kind, **data)
                return
            except CarrierError as exc:
                if number + 1 == tries:
                    logger.warning("job %s: its %s event was not sent: %s", self.ticket, kind, exc)
                    return
                time.sleep(2**number)

    def stop_requested(self) -> bool:
        try:
            cancelled = self.carrier.cancel_requested(self.ticket)
            return cancelled or self.carrier.attempt(self.ticket) != self.attempt
        except CarrierError:
            return False  # a cut connection stops nothing: the lease decides who goes on


class Heartbeat:
    """Holds the job's lease while the block runs, renewing it every HEARTBEAT_S; a worker
    that dies stops renewing, and the app hands the job to another."""

    def __init__(self, carrier: Carrier, ticket: str, attempt: int, holder: dict) -> None:
        self.carrier, self.ticket, self.attempt, self.holder = carrier, ticket, attempt, holder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tvdesk-lease")

    def __enter__(self) -> Heartbeat:
        self.carrier.hold_lease(self.ticket, self.attempt, self.holder)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # the lease runs out by itself, after the outcome has been posted
        self._thread.join(HEARTBEAT_S * 2)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.carrier.hold_lease(self.ticket, self.attempt, self.holder)
            except CarrierError as exc:
                logger.warning("job %s: lease not renewed: %s", self.ticket, exc)


def run_remote_job(carrier: Carrier, ticket: str, attempt: int, data_dir: Path) -> None:
    """Attempt `attempt` of job `ticket`, in `data_dir`; never raises (the outcome is posted)."""
    holder = {"host": socket.gethostname(), "pid": os.getpid(), "tvdesk": tvdesk_version()}
    sink = QueueSink(carrier, ticket, attempt)
    workspace = data_dir / JOBS_FOLDER / ticket
    try:
        with Heartbeat(carrier, ticket, attempt, holder):
            sink.post("claimed", worker={**holder, "attempt": attempt})
            _claimed(carrier, sink, holder, workspace)
    except Exception as exc:  # the app must hear of it (if the queue is gone, its lease check
        logger.exception("job %s failed", ticket)  # hands the job on)
        sink.post("failed", stage="train", message=str(exc) or type(exc).__name__)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def _claimed(carrier: Carrier, sink: QueueSink, holder: dict, workspace: Path) -> None:
    manifest = carrier.manifest(sink.ticket)
    try:
        check_manifest(manifest)
    except IncompatibleJobError as exc:
        logger.warning("job %s refused: %s", sink.ticket, exc)
        sink.post("refused", message=f"the training worker on {holder['host']} refused it: {exc}")
        return
    if sink.stop_requested():
        sink.post("cancelled")
        return
    shutil.rmtree(workspace, ignore_errors=True)
    ctx = RemoteContext(manifest, workspace, sink, lay_out(manifest, workspace))
    device = _device(ctx)
    ctx.remember(remote_worker={**holder, "attempt": sink.attempt, "device": device})
    logger.info(
        "job %s (job %d of the app on tvdesk %s): training on %s",
        sink.ticket,
        ctx.id,
        manifest.get("tvdesk"),
        device,
    )
    _run(carrier, ctx, manifest)


def _device(ctx: RemoteContext) -> str:
    from tvdesk.training.device import device_name, resolve_device

    return device_name(resolve_device(ctx.settings.device))


def _run(carrier: Carrier, ctx: RemoteContext, manifest: dict) -> None:
    """Fetch the payload, train, evaluate, export and send the candidate back."""
    try:
        ctx.begin("train")
        _receive(carrier, ctx, manifest["files"])
        stages.train(ctx)
        ctx.begin("evaluate")
        stages.evaluate(ctx)
        ctx.begin("register")
        onnx, card = stages.export_candidate(ctx)
        _send(carrier, ctx, _result_files(ctx, onnx, card), float(manifest["max_mb"]))
    except JobStopped as exc:
        logger.info("%s", exc)
        if ctx.finished is None and ctx.sink.stop_requested():
            ctx.sink.post("cancelled")
    except Exception as exc:
        if ctx.cancel_requested(force=True):
            logger.info("job %d was cancelled during %s", ctx.id, ctx.stage)
            ctx.sink.post("cancelled")
            return
        logger.exception("job %d failed during %s", ctx.id, ctx.stage)
        ctx.fail(exc)


def _receive(carrier: Carrier, ctx: RemoteContext, refs: dict) -> None:
    ctx.progress(0.0, f"receiving the job's data ({total_mb(refs):.1f} MB)")
    started = time.monotonic()
    received = carrier.get_files(refs, ctx.workspace)
    seconds = time.monotonic() - started
    logger.info("job %d: received %.1f MB in %.1f s", ctx.id, received / MB, seconds)
    ctx.remember(worker_received_mb=round(received / MB, 2), worker_received_s=round(seconds, 2))


def _result_files(ctx: RemoteContext, onnx: Path, card: dict) -> dict[str, Path]:
    card_path = onnx.with_name(RESULT_NAMES["card"])
    atomic.write_text(card_path, json.dumps(card, indent=2) + "\n")
    files = {
        RESULT_NAMES["pt"]: Path(ctx.result["candidate_pt"]),
        RESULT_NAMES["onnx"]: onnx,
        RESULT_NAMES["card"]: card_path,
    }
    return files


def _send(carrier: Carrier, ctx: RemoteContext, files: dict[str, Path], limit_mb: float) -> None:
    refs = file_refs(files)
    check_size(refs, limit_mb, "the candidate", "raise remote_max_mb on the app's machine")
    ctx.progress(0.8, f"sending the candidate back ({total_mb(refs):.1f} MB)")
    started = time.monotonic()
    carrier.put_files(files, refs)
    seconds = round(time.monotonic() - started, 2)
    ctx.sink.post(
        "done", files=refs, worker_sent_mb=round(total_mb(refs), 2), worker_sent_s=seconds
    )
    logger.info("job %d: candidate sent (%.1f MB in %.1f s)", ctx.id, total_mb(refs), seconds)
