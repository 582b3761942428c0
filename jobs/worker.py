"""The worker: a Huey consumer for tvdesk's tasks, and how the app starts a local one.

`python -m jobs.worker` (or `tvdesk worker`) runs a consumer in the foreground, on the main
thread as Huey requires. The GUI and CLI start it as a separate process at lower CPU priority
when the queue is local, so training never takes the player's frame rate or interpreter lock.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from jobs.queue import QUEUE_ENV, JobQueue, open_queue
from jobs.remote.pipeline import serve
from tvdesk.config import default_data_dir, project_root
from tvdesk.core import atomic
from tvdesk.core.processes import process_alive
from tvdesk.core.registry import Registry
from tvdesk.core.store import Store, database_path
from tvdesk.retrain.context import recover_interrupted

logger = logging.getLogger(__name__)

POLL_S = 0.1  # first wait for a task when the queue is idle
MAX_POLL_S = 0.5  # the idle back-off stops here (Huey's own default is 10 s)
LOCAL_NICE = 10
PID_FILE = "worker.pid"
WORKER_EXECUTABLE = "tvdesk-worker"  # beside `tvdesk` in the installed bundle
LOCAL_FLAG = "--local"  # consume the local queue even when TVDESK_QUEUE names a Redis one


def recover(data_dir: Path, queue: JobQueue) -> None:
    """Drop half-written model folders; of the jobs a killed worker left running, queue again
    the refinement rounds it interrupted (at the stage they were in) and fail the rest."""
    with Store(database_path(data_dir)) as store:
        for path in Registry(store, data_dir).remove_staging():
            logger.warning("removed a half-written model folder %s", path)
        failed, resumed = recover_interrupted(store)
        for job in failed + resumed:
            logger.warning("job %d: %s", job.id, job.message)
        for job in resumed:
            queue.submit_retrain(job.id, first=job.stage)


def run_worker(queue: JobQueue | None = None, data_dir: Path | None = None) -> None:
    """Consume tasks until interrupted (SIGINT finishes the task in hand, SIGTERM stops)."""
    data_dir = data_dir or default_data_dir()
    queue = queue or open_queue(data_dir)
    queue.check()
    recover(data_dir, queue)
    _preload_training()
    if queue.local:  # a training worker's pid is none of the app's business
        atomic.write_text(data_dir / PID_FILE, f"{socket.gethostname()} {os.getpid()}\n")
    relay = serve(queue, data_dir)  # remote jobs: the app's side, or the training side
    logger.info("worker %d consuming %s", os.getpid(), queue.description)
    consumer = queue.huey.create_consumer(
        workers=1,
        periodic=False,
        initial_delay=POLL_S,
        max_delay=MAX_POLL_S,
        check_worker_health=False,
    )
    try:
        consumer.run()
    finally:
        if relay is not None:
            relay.stop()


def _preload_training() -> None:
    """Import the training stack now, so a job (and its cancel) does not wait for it."""
    from tvdesk.training.offline import TrainingUnavailableError, ultralytics_offline

    try:
        ultralytics_offline()
    except TrainingUnavailableError as exc:
        logger.warning("%s: this worker can queue jobs but not train", exc)


def local_worker_running(data_dir: Path) -> bool:
    path = data_dir / PID_FILE
    if not path.exists():
        return False
    host, _, pid = path.read_text().strip().partition(" ")
    return host == socket.gethostname() and pid.isdigit() and process_alive(int(pid))


def start_local_worker(
    data_dir: Path | None = None, log: Path | None = None, training_url: str = ""
) -> subprocess.Popen:
    """A worker process for the local queue, niced, with torch and OpenMP on one thread; with
    `training_url` (a Redis queue) it sends its jobs' training there and follows them."""
    data_dir = data_dir or default_data_dir()
    env = {**os.environ, "TVDESK_HOME": str(data_dir), "OMP_NUM_THREADS": "1"}
    if training_url:
        env[QUEUE_ENV] = training_url
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(project_root()), env.get("PYTHONPATH", "")])
    )
    out = open(log or data_dir / "worker.log", "ab")  # noqa: SIM115 - the child owns it
    try:
        worker = subprocess.Popen(
            [*worker_command(), LOCAL_FLAG],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_lower_priority if os.name == "posix" else None,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),  # no console on Windows
        )
    finally:
        out.close()
    # Claimed now, not once the child has loaded its libraries (seconds): an approval right
    # after this one must find it running rather than start a second worker (and relay),
    # which would register a remote job's candidate twice.
    atomic.write_text(data_dir / PID_FILE, f"{socket.gethostname()} {worker.pid}\n")
    return worker


def worker_command() -> list[str]:
    """How to start a worker: the bundle's `tvdesk-worker` beside the frozen app (the app
    itself has no training stack), else this interpreter on `jobs.worker`."""
    if getattr(sys, "frozen", False):
        suffix = ".exe" if os.name == "nt" else ""
        return [str(Path(sys.executable).with_name(f"{WORKER_EXECUTABLE}{suffix}"))]
    return [sys.executable, "-m", "jobs.worker"]


def _lower_priority() -> None:
    os.nice(LOCAL_NICE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument(
        LOCAL_FLAG,
        action="store_true",
        help="the app's own worker: consume the local queue, and send jobs to train on the "
        "Redis queue TVDESK_QUEUE names, if any",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        run_worker(open_queue(url="") if args.local else None)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
