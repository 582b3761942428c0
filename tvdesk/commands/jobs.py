"""`tvdesk jobs [list | show ID | cancel ID | stop ID [--now]]`: background jobs as the store
records them, and the operator's stop of a job that goes on in refinement rounds."""

from __future__ import annotations

import argparse
import json
import time

from tvdesk.core.store import Store
from tvdesk.core.store.job import Job, JobState
from tvdesk.retrain.context import cancel_job, stop_job


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("jobs", help="list, show or cancel background jobs")
    jobs_sub = parser.add_subparsers(dest="jobs_command", metavar="ACTION")
    listing = jobs_sub.add_parser("list", help="the latest jobs, newest first")
    listing.add_argument("--state", choices=[s.value for s in JobState])
    listing.set_defaults(run=run_list)
    show = jobs_sub.add_parser("show", help="one job's state, progress, metrics and message")
    show.add_argument("id", type=int)
    show.set_defaults(run=run_show)
    cancel = jobs_sub.add_parser(
        "cancel",
        help="stop a queued or running job now (after a promotion its last version stays live)",
    )
    cancel.add_argument("id", type=int)
    cancel.set_defaults(run=run_cancel)
    stop = jobs_sub.add_parser(
        "stop", help="end a retraining after the round in progress (its last version stays)"
    )
    stop.add_argument("id", type=int)
    stop.add_argument("--now", action="store_true", help="at once, like cancel")
    stop.set_defaults(run=run_stop)
    parser.set_defaults(run=run_list, state=None)


def run_list(args: argparse.Namespace) -> int:
    with Store() as store:
        jobs = store.jobs.all(JobState(args.state) if args.state else None)
    if not jobs:
        print("no jobs")
    for job in jobs:
        print(summary(job))
    return 0


def run_show(args: argparse.Namespace) -> int:
    with Store() as store:
        job = store.jobs.get(args.id)
    print(summary(job))
    print(f"  message: {job.message}")
    result = {k: v for k, v in job.result.items() if k not in ("epochs", "rounds")}
    for r in job.result.get("rounds", []):
        candidate = (r.get("metrics") or {}).get("candidate", {})
        outcome = f"version {r['model_version']}" if r.get("promoted") else "kept"
        print(
            f"  round {r['round']}: {outcome}, {r.get('labelled')} frames, "
            f"{r.get('train_seconds', 0) / 60:.1f} min, drifted val mAP50 "
            f"{candidate.get('drift', {}).get('map50', float('nan')):.3f}, base "
            f"{candidate.get('base', {}).get('map50', float('nan')):.3f}"
        )
    for epoch in job.result.get("epochs", []):
        print(
            f"  epoch {epoch['epoch']}: mAP50 {epoch.get('metrics/mAP50(B)', float('nan')):.3f}"
            f"  box loss {epoch.get('train/box_loss', float('nan')):.3f}"
        )
    print("  result: " + json.dumps(result, indent=2, default=str).replace("\n", "\n  "))
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    with Store() as store:
        job = cancel_job(store, args.id)
    print(summary(job))
    return 0


def run_stop(args: argparse.Namespace) -> int:
    with Store() as store:
        job = stop_job(store, args.id, after_round=not args.now)
    print(summary(job))
    if not job.state.finished:
        print(f"  job {job.id} ends once round {job.result.get('round', 1)} has been gated")
    return 0


def summary(job: Job) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.created))
    stage = f" {job.stage}" if job.stage and not job.state.finished else ""
    return f"#{job.id} {job.kind} {job.state}{stage} {job.progress:4.0%}  {when}  {job.message}"
