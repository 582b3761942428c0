"""`tvdesk gui`: the desktop app (the default command)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("gui", help="open the desktop app (default)")
    parser.add_argument(
        "source",
        nargs="?",
        help="video file, webcam index, stream URL or synthetic[:scenario] "
        "(default: the synthetic camera)",
    )
    parser.add_argument(
        "--model", type=Path, help="play this ONNX model instead of each camera's version"
    )
    parser.add_argument("--scenario", help="synthetic camera scenario (default: day-night)")
    parser.add_argument(
        "--quit-after",
        type=float,
        metavar="SECONDS",
        help="close by itself after this long (smoke tests, screenshots)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jobs.retraining import RetrainApprover
    from tvdesk.config import load_settings
    from tvdesk.ui.app import run_app

    settings = load_settings()
    approver = RetrainApprover(settings.retrain, settings.data_dir)
    return run_app(
        settings,
        approver,
        model=args.model,
        scenario=args.scenario,
        source=args.source,
        quit_after=args.quit_after,
    )
