"""`tvdesk demo`: the self-correcting loop in one command.

The synthetic camera sees day, then night falls; the drift monitor raises an alarm, the
retraining is approved (by the operator, or `--auto-approve`), the new model is swapped in
live, and the job goes on in refinement rounds (`--refine`), each new version swapped in
too. `--headless` runs the same loop without a window and writes a report (JSON + PNGs).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

from tvdesk.config import (
    LABELERS,
    RetrainSettings,
    bundled_model_path,
    default_data_dir,
    load_settings,
)
from tvdesk.core.session.events import AlarmRaised, JobQueued, ModelPromoted, SessionError, SwapDone
from tvdesk.demo.headless import DemoOptions, HeadlessDemo, TimedEvent

logger = logging.getLogger(__name__)

REPORT_NAME, CHART_NAME = "demo-report.json", "demo-chart.png"
ROUNDS_CHART_NAME = "demo-rounds-chart.png"
# How long the headless demo waits from approval for the job to end: its fine-tuning budget
# and as much again for selection, labels, datasets, evaluations and swaps, plus 15 minutes.
JOB_WAIT_FACTOR, JOB_WAIT_EXTRA_S = 2.0, 900.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="day -> night -> alarm -> retraining -> new model, live",
        description="Play the synthetic camera from day into night with the bundled model: "
        "the drift alarm comes, a retraining is approved, and the new model is swapped in "
        "while the video keeps playing. With --headless, no window: a JSON report and a "
        "chart are written instead.",
    )
    parser.add_argument("--headless", action="store_true", help="run without a window")
    parser.add_argument(
        "--auto-approve", action="store_true", help="approve the retraining without asking"
    )
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="headless: write the report and chart here"
    )
    parser.add_argument(
        "--source",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="real video files played in order (e.g. a day clip, then a night clip) instead "
        "of the synthetic camera; the teacher labels them",
    )
    parser.add_argument("--day", type=float, default=60.0, help="seconds of day (synthetic)")
    parser.add_argument("--fade", type=float, default=10.0, help="seconds night takes to fall")
    parser.add_argument("--fps", type=float, default=10.0, help="synthetic camera frame rate")
    parser.add_argument(
        "--after-swap", type=float, default=30.0, help="seconds to play the new model"
    )
    parser.add_argument(
        "--home",
        type=Path,
        help="data folder of this demo (default headless: a new one under the app data "
        "folder's demo-runs/; with a window: the app data folder)",
    )
    parser.add_argument("--labeler", choices=LABELERS, help="default: oracle, or teacher")
    parser.add_argument(
        "--epochs", type=int, help="fine-tuning epochs (default: as many as --minutes allows)"
    )
    parser.add_argument(
        "--minutes", type=float, help="fine-tuning time of the first version (default 6.5)"
    )
    parser.add_argument(
        "--refine",
        type=float,
        metavar="MINUTES",
        help="fine-tuning minutes of the whole job: after the first version it goes on in "
        "refinement rounds until they are spent (default 40; 0 = stop after the first)",
    )
    parser.add_argument(
        "--round-minutes", type=float, help="fine-tuning time of each refinement round (default 10)"
    )
    parser.add_argument("--label-budget", type=int, help="frames chosen for labelling")
    parser.add_argument("--replay", type=int, help="base images mixed in")
    parser.add_argument(
        "--relit", type=int, help="base images relit to the drifted light and mixed in"
    )
    parser.add_argument("--imgsz", type=int, help="training image size")
    parser.add_argument(
        "--queue",
        metavar="URL",
        help="train on the Redis queue URL (redis://[:password@]host:port/db, or rediss:// "
        "for TLS), where a `tvdesk worker` of another machine takes the job (default: "
        "$TVDESK_QUEUE, else this machine)",
    )
    parser.add_argument(
        "--no-eval", action="store_true", help="headless: skip the mAP evaluation at the end"
    )
    parser.add_argument(
        "--quit-after", type=float, metavar="SECONDS", help="with a window: close after this long"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    retrain = RetrainSettings(labeler="teacher" if args.source else "oracle").with_changes(
        labeler=args.labeler,
        epochs=args.epochs,
        train_minutes=args.minutes,
        label_budget=args.label_budget,
        replay=args.replay,
        relit=args.relit,
        imgsz=args.imgsz,
        refine_minutes=args.refine,
        round_minutes=args.round_minutes,
    )
    options = DemoOptions(
        day_s=args.day,
        fade_s=args.fade,
        fps=args.fps,
        after_swap_s=args.after_swap,
        videos=tuple(args.source or ()),
        auto_approve=args.auto_approve,
        max_job_s=JOB_WAIT_EXTRA_S
        + JOB_WAIT_FACTOR * 60 * max(retrain.refine_minutes, retrain.train_minutes),
    )
    if not args.headless:
        from jobs.retraining import RetrainApprover
        from tvdesk.ui.demo_app import run_demo_app

        settings = load_settings()
        if args.home is not None:
            args.home.mkdir(parents=True, exist_ok=True)
            settings = replace(settings, data_dir=args.home)
        approver = RetrainApprover(
            retrain,
            settings.data_dir,
            queue=_queue(args, settings.data_dir),
            traffic_imgsz=settings.traffic_imgsz,
        )
        return run_demo_app(options, settings, approver, quit_after=args.quit_after)
    return run_headless(args, options, retrain)


def run_headless(args: argparse.Namespace, options: DemoOptions, retrain: RetrainSettings) -> int:
    from jobs.retraining import RetrainApprover

    home = args.home or default_data_dir() / "demo-runs" / time.strftime("%Y%m%d-%H%M%S")
    home.mkdir(parents=True, exist_ok=True)
    report_dir = args.report or home / "report"
    print(f"demo data in {home}")
    settings = replace(load_settings(), data_dir=home)
    approver = RetrainApprover(
        retrain, home, queue=_queue(args, home), traffic_imgsz=settings.traffic_imgsz
    )
    try:
        run = HeadlessDemo(options, settings, approver).run(on_event=_say)
    finally:
        approver.stop_workers()  # the demo's own data folder: its worker ends with it
    from tvdesk.demo.report import build_report, evaluate_held_out

    report = build_report(run)
    report["retrain_settings"] = retrain.as_dict()
    if not args.no_eval and not options.videos:
        card = json.loads(bundled_model_path().with_suffix(".json").read_text())
        day = card.get("metrics", {}).get("day", {}).get("map50")
        evaluate_held_out(report, run, home / "eval", retrain.imgsz, day)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n")
    from tvdesk.ui.report_chart import save_demo_chart, save_rounds_chart

    save_demo_chart(report, run, report_dir / CHART_NAME)
    if "map50" in report and len(report["map50"]["versions"]) > 2:
        save_rounds_chart(report, report_dir / ROUNDS_CHART_NAME)
    _print_summary(report, report_dir)
    return 0 if report["swap"] is not None or options.videos else 1


def _queue(args: argparse.Namespace, home: Path):
    """The queue `--queue` names, reached before the demo plays; None for the usual one
    ($TVDESK_QUEUE, else this machine)."""
    if not args.queue:
        return None
    from jobs.queue import REDIS_SCHEMES, open_queue
    from tvdesk.commands.errors import CommandLineError
    from tvdesk.core.sources.stream import mask_url

    if not args.queue.startswith(REDIS_SCHEMES):
        raise CommandLineError(
            f"--queue {mask_url(args.queue)} is not a Redis URL: use "
            "redis://[:password@]host:port/db (or rediss:// for TLS)"
        )
    queue = open_queue(home, url=args.queue)
    queue.check()
    return queue


def _say(timed: TimedEvent) -> None:
    event = timed.event
    at = f"[{timed.stream:7.1f} s]"
    if isinstance(event, AlarmRaised):
        plan = f"; plan: {event.plan.describe()}" if event.plan else ""
        print(f"{at} drift alarm: {event.event.summary}{plan}")
    elif isinstance(event, JobQueued):
        print(f"{at} retraining job {event.job.id} queued on {event.queue}")
    elif isinstance(event, ModelPromoted):
        print(f"{at} model {event.version.version} promoted")
    elif isinstance(event, SwapDone):
        swap = event.swap
        verdict = "swapped in" if swap.accepted else f"rejected ({swap.reason})"
        print(f"{at} model {swap.new_version} {verdict} (load {swap.load_ms:.0f} ms)")
    elif isinstance(event, SessionError):
        print(f"{at} problem: {event.message}")


def _print_summary(report: dict, report_dir: Path) -> None:
    alarm, job, swap = report["alarm"], report["job"], report["swap"]
    lines = [f"outcome: {report['outcome']} after {report['stream_seconds']} s of video"]
    if alarm:
        lines.append(
            f"alarm at {alarm['stream_s']} s ({alarm['after_night_complete_s']} s after night "
            f"fell); false alarms before: {report['false_alarms_before_drift']}"
        )
    if job:
        lines.append(
            f"job {job['id']}: {job['state']}, {job['message']}; approval -> live "
            f"{job['approval_to_live_wall_s']} s"
        )
    if swap:
        lines.append(
            f"swap: {swap['frames_dropped_during_swap']} frames dropped, max interval "
            f"{swap['max_over_median']} x median"
        )
    if "map50" in report:
        m = report["map50"]
        lines.append(
            f"night mAP50: old {m['old_night_map50']}, new {m['new_night_map50']} "
            f"(bundled day {m['bundled_day_map50']}); day mAP50: old {m['old_day_map50']}, "
            f"new {m['new_day_map50']}"
        )
        lines += [
            f"  version {v['version']} live {v['live_minutes_after_approval']} min after "
            f"approval: night {v['night_map50']}, day {v['day_map50']}"
            for v in m["versions"]
        ]
    lines.append(f"report: {report_dir / REPORT_NAME}, chart: {report_dir / CHART_NAME}")
    print("\n".join(lines))
