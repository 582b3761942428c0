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
    """Open the app; a start-up error shows in a dialog (closed by itself at the `--quit-after`
    deadline) and as the command's error line."""
    from jobs.retraining import RetrainApprover
    from tvdesk.config import SettingsError, load_settings
    from tvdesk.core.sources import silence_native_video_logs
    from tvdesk.ui.app import run_app
    from tvdesk.ui.startup_dialog import show_startup_error

    if not getattr(args, "verbose", False):
        silence_native_video_logs()
    try:
        settings = load_settings()
    except SettingsError as exc:
        show_startup_error(str(exc), close_after=args.quit_after)
        raise
    approver = RetrainApprover(
        settings.retrain, settings.data_dir, traffic_imgsz=settings.traffic_imgsz
    )
    return run_app(
        settings,
        approver,
        model=args.model,
        scenario=args.scenario,
        source=args.source,
        quit_after=args.quit_after,
    )
