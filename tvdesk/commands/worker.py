"""`tvdesk worker`: run the job queue's consumer in the foreground (this machine or a GPU box)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "worker",
        help="run retraining jobs from the queue",
        description="Consume the job queue: the local one in the app data folder, or the Redis "
        "queue named by TVDESK_QUEUE=redis://[:password@]host:port/db (or rediss:// for TLS): "
        "run it on another machine, a GPU one say, in a data folder of its own, to train "
        "there; each job comes with its data and its candidate goes back to the app. Never "
        "expose a queue to an untrusted network: tasks are pickled.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jobs.worker import run_worker, worker_command

    if getattr(sys, "frozen", False):
        # The installed `tvdesk` has no training stack; its sibling `tvdesk-worker` has.
        command = worker_command()
        if os.name == "posix":
            os.execv(command[0], command)
        return subprocess.call(command)
    run_worker()
    return 0
