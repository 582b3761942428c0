"""`tvdesk run SOURCE`: play any source headless, record it, optionally write an annotated video.

How an operator checks a camera or a model on a machine without a screen: the same frame loop
as the player, a progress line for files, and a summary (text or JSON) at the end.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from tvdesk.commands.counts import parse_shape
from tvdesk.commands.errors import CommandLineError
from tvdesk.commands.run_cameras import run_cameras, stored_source
from tvdesk.commands.run_report import ProgressLine, RunTally, camera_summary, print_summary
from tvdesk.config import load_settings
from tvdesk.core.session import cameras
from tvdesk.core.session.annotate import CODECS, AnnotatedVideoWriter
from tvdesk.core.session.frame_loop import FrameLoop, LoopOutcome
from tvdesk.core.session.live import DRIFT, LiveSession
from tvdesk.core.session.start import start_session
from tvdesk.core.sources import (
    SourceError,
    SourceEvent,
    SourceInfo,
    VideoSource,
    open_source,
    silence_native_video_logs,
)
from tvdesk.core.sources.image_folder import DEFAULT_FOLDER_FPS
from tvdesk.core.sources.snapshot import DEFAULT_INTERVAL_S
from tvdesk.core.store import CountingShape
from tvdesk.core.store.counting_shape import LINE, ZONE

logger = logging.getLogger(__name__)

WAIT_SLICE_S = 0.2  # the main thread wakes this often to honour --seconds and Ctrl-C
DEFAULT_OUT_FPS = 10.0  # for live sources that do not report a frame rate
INTERRUPTED = 130


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run",
        help="play a source without a window and summarise it",
        description="Run detection on a video file, webcam, network stream or the synthetic "
        "camera without a window; record the session in the database and print a "
        "summary. Files play at real-time pace unless --every-frame; live sources "
        "run until Ctrl-C or --seconds.",
    )
    parser.add_argument(
        "source",
        nargs="*",
        help="a video file, a folder of images, a webcam index (0), a stream URL (rtsp://, "
        "http(s)://, udp://), a snapshot URL (http(s)://.../x.jpg or snapshot+http(s)://...) "
        "or synthetic[:SCENARIO]; several play at once as several cameras, sharing the "
        "detector fairly, and the summary is per camera",
    )
    parser.add_argument(
        "--cameras",
        nargs="+",
        default=[],
        metavar="NAME",
        help="play these stored cameras too, from their own sources (a stream with a password "
        "needs its URL given as a SOURCE instead)",
    )
    parser.add_argument(
        "--fps",
        type=_positive_number,
        default=DEFAULT_FOLDER_FPS,
        help=f"images per second of a folder (default {DEFAULT_FOLDER_FPS:g})",
    )
    parser.add_argument(
        "--interval",
        type=_positive_number,
        default=DEFAULT_INTERVAL_S,
        metavar="S",
        help=f"seconds between polls of a snapshot camera (default {DEFAULT_INTERVAL_S:g})",
    )
    parser.add_argument(
        "--camera",
        metavar="NAME",
        help="play the source as this camera (created if new; default: the source's own "
        "camera): its model version, baseline and settings",
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="play this ONNX model instead of the camera's active version (not registered)",
    )
    parser.add_argument(
        "--baseline",
        type=_duration,
        metavar="TIME",
        help="how long a new real camera plays to learn its normal, e.g. 10s, 2m "
        "(default: the settings' baseline_seconds)",
    )
    parser.add_argument(
        "--every-frame",
        action="store_true",
        help="process every frame as fast as possible (files, synthetic)",
    )
    parser.add_argument(
        "--out",
        type=_video_path,
        metavar="VIDEO",
        help=f"write an annotated video ({', '.join(CODECS)})",
    )
    parser.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="X1,Y1,X2,Y2",
        help="count the vehicles crossing the line from (x1, y1) to (x2, y2), in frame pixels "
        "(y down), by class and direction: 'in' is a crossing to the right of the line seen "
        "from its start (drawn left to right, it counts vehicles moving down the frame as in). "
        "Stored with the camera as line-1, line-2... (one it has already is not added again) "
        "and counted whenever the camera plays, in the app too. Repeat for more lines",
    )
    parser.add_argument(
        "--zone",
        action="append",
        default=[],
        metavar="X,Y,X,Y,X,Y...",
        help="count the vehicles entering and leaving the zone with these corners (3 or more, "
        "in order, frame pixels) and how long they stay; stored with the camera as zone-1... "
        "like --line. Repeat for more zones",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--seconds", type=_positive, metavar="S", help="stop after S seconds")
    parser.set_defaults(run=run)


def _video_path(text: str) -> Path:
    path = Path(text).expanduser()
    if path.suffix.lower() not in CODECS:
        raise argparse.ArgumentTypeError(f"the video must end in one of {', '.join(CODECS)}")
    return path


def _duration(text: str) -> float:
    """Seconds from '90', '90s', '2m' or '1h'."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    text = text.strip().lower()
    scale = units.get(text[-1:])
    number = text[:-1] if scale else text
    try:
        value = float(number) * (scale or 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a time like 10s, 2m or 90, got {text!r}"
        ) from None
    if not value >= 10:
        raise argparse.ArgumentTypeError("a baseline needs at least 10 s of video")
    return value


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "verbose", False):
        silence_native_video_logs()
    settings = load_settings()
    if args.baseline is not None:
        settings = replace(settings, baseline_seconds=args.baseline)
    if not args.source and not args.cameras:
        raise CommandLineError("give a SOURCE to play (or --cameras NAME ...): see --help")
    if len(args.source) + len(args.cameras) > 1:
        return run_cameras(args, settings)
    if args.cameras:
        args.camera = args.cameras[0]
        args.source = [stored_source(settings, args.camera)]
    events: list[SourceEvent] = []
    source = open_source(
        args.source[0],
        paced=not args.every_frame,
        scenario=settings.scenario,
        synthetic_fps=settings.synthetic_fps,
        fps=args.fps,
        interval=args.interval,
    )
    video = None
    try:  # until the loop starts and owns the source, close it on any error
        _check_every_frame(args, source)
        shapes = _counting_shapes(args, source.info)
        video = _video_writer(args, source.info, settings.min_free_mb)
        session = start_session(settings, source.info, camera=args.camera, model=args.model)
    except BaseException:
        source.close()
        if video:
            video.finish(keep=False)
        raise
    source.subscribe(events.append)
    try:
        summary = _play(args, source, session, video, shapes)
    finally:
        session.close()
    summary["events"] = [{"kind": e.kind, "message": e.message} for e in events]
    print_summary(summary, args.json)
    return INTERRUPTED if summary["stopped_by"] == "interrupt" else 0


def _check_every_frame(args: argparse.Namespace, source: VideoSource) -> None:
    if args.every_frame and source.info.live:
        raise SourceError(
            f"--every-frame needs a file or the synthetic camera; "
            f"{source.info.name} is live and always shows its newest frame"
        )


def _counting_shapes(args: argparse.Namespace, info: SourceInfo) -> list[CountingShape]:
    """The --line and --zone values, checked against the frame size when it is known."""
    given = [(LINE, text) for text in args.line] + [(ZONE, text) for text in args.zone]
    return [parse_shape(kind, text, info.size) for kind, text in given]


def _store_shapes(
    session: LiveSession, info: SourceInfo, camera: str | None, shapes: list[CountingShape]
) -> None:
    """Keep the command line's lines and zones with the camera (before it plays)."""
    if not shapes:
        return
    store = session.store
    found = cameras.open_camera(store, session.registry, info, session.base_models, camera)
    for shape in shapes:
        store.counters.ensure(found.id, shape.kind, shape.points)


def _video_writer(
    args: argparse.Namespace, info: SourceInfo, min_free_mb: float
) -> AnnotatedVideoWriter | None:
    if not args.out:
        return None
    return AnnotatedVideoWriter(args.out, info.fps or DEFAULT_OUT_FPS, info.size, min_free_mb)


def _play(
    args: argparse.Namespace,
    source: VideoSource,
    session: LiveSession,
    video: AnnotatedVideoWriter | None,
    shapes: list[CountingShape],
) -> dict:
    """Run the camera's loop with the run's consumers; the summary of what it did."""
    info = source.info
    tally = RunTally(DRIFT)
    progress = ProgressLine(info.frame_count) if sys.stderr.isatty() else None
    consumers = [c for c in (tally, video, progress) if c is not None]
    try:
        _store_shapes(session, info, args.camera, shapes)
        loop = session.play(
            source, consumers=consumers, every_frame=args.every_frame, camera=args.camera
        )
    except BaseException:
        source.close()  # no loop owns it
        if video:
            video.finish(keep=False)
        raise
    stream = session.stream
    outcome, stopped_by = _wait(loop, args.seconds)
    if progress:
        progress.finish()
    if video:
        video.finish(keep=outcome.error is None)
    if outcome.error is not None:
        raise outcome.error
    stream.recorder.check_written()  # the last batch, written after the loop's end
    summary = camera_summary(session, stream, info, tally, outcome, stopped_by)
    summary["output"] = str(video.target) if video else None
    return summary


def _wait(loop: FrameLoop, seconds: float | None) -> tuple[LoopOutcome, str]:
    """Run the loop to its end, to `seconds`, or to Ctrl-C; how it ended, and why."""
    deadline = time.monotonic() + seconds if seconds else None
    loop.start()
    try:
        while (outcome := loop.wait(WAIT_SLICE_S)) is None:
            if deadline and time.monotonic() >= deadline:
                loop.stop()
                return loop.wait(), "time limit"
    except KeyboardInterrupt:
        loop.stop()
        return loop.wait(), "interrupt"
    return outcome, "end of source" if outcome.reason == "ended" else outcome.reason
