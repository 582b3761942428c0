"""`tvdesk run SOURCE`: play any source headless, record it, optionally write an annotated video.

How an operator checks a camera or a model on a machine without a screen: the same frame loop
as the player, a progress line for files, and a summary (text or JSON) at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from tvdesk.commands.run_report import ProgressLine, RunTally, print_summary
from tvdesk.config import Settings, load_settings
from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.drift import DriftMonitor
from tvdesk.core.drift.model_profile import profile_from_card
from tvdesk.core.session.annotate import CODECS, AnnotatedVideoWriter
from tvdesk.core.session.frame_loop import FrameLoop, LoopOutcome
from tvdesk.core.session.recorder import SessionRecorder
from tvdesk.core.sources import (
    SourceError,
    SourceEvent,
    VideoSource,
    open_source,
    silence_native_video_logs,
)
from tvdesk.core.store import Store, StoreWriter

logger = logging.getLogger(__name__)

DRIFT = "drift"  # the drift monitor's name among the loop's observers
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
        help="a video file, a webcam index (0), a stream URL "
        "(rtsp://, http(s)://, udp://) or synthetic[:SCENARIO]",
    )
    parser.add_argument("--model", type=Path, help="ONNX model (default: the settings' model)")
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
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--seconds", type=_positive, metavar="S", help="stop after S seconds")
    parser.set_defaults(run=run)


def _video_path(text: str) -> Path:
    path = Path(text).expanduser()
    if path.suffix.lower() not in CODECS:
        raise argparse.ArgumentTypeError(f"the video must end in one of {', '.join(CODECS)}")
    return path


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
    events: list[SourceEvent] = []
    with Store() as store:
        source = open_source(
            args.source,
            paced=not args.every_frame,
            scenario=settings.scenario,
            synthetic_fps=settings.synthetic_fps,
        )
        try:  # until the loop starts and owns the source, close it on any error
            slot, drift, video = _tools(args, source, settings)
        except BaseException:
            source.close()
            raise
        source.subscribe(events.append)
        with StoreWriter(store.path) as writer:
            recorder = SessionRecorder(store, writer, source.info, slot.current.version)
            summary = _play(args, source, slot, drift, video, recorder)
            writer.flush()
    summary.update(
        events=[{"kind": e.kind, "message": e.message} for e in events],
        session_id=recorder.session_id,
        database=str(store.path),
    )
    print_summary(summary, args.json)
    return INTERRUPTED if summary["stopped_by"] == "interrupt" else 0


def _tools(
    args: argparse.Namespace, source: VideoSource, settings: Settings
) -> tuple[DetectorSlot, DriftMonitor, AnnotatedVideoWriter | None]:
    """The detector slot, the drift monitor and the video writer for this run."""
    if args.every_frame and source.info.live:
        raise SourceError(
            f"--every-frame needs a file or the synthetic camera; "
            f"{source.info.name} is live and always shows its newest frame"
        )
    info = source.info
    video = (
        AnnotatedVideoWriter(args.out, info.fps or DEFAULT_OUT_FPS, info.size) if args.out else None
    )
    model_path = args.model or settings.model_path
    try:
        detector = OnnxDetector(
            model_path,
            conf=settings.confidence,
            iou=settings.iou,
            threads=settings.inference_threads,
        )
    except BaseException:
        if video:
            video.finish(keep=False)
        raise
    return DetectorSlot(detector), drift_monitor(model_path), video


def drift_monitor(model_path: Path) -> DriftMonitor:
    """A monitor testing against the drift profile in the model's card; without a usable one,
    it learns a baseline from the stream first (and says so in the summary's drift state)."""
    card = Path(model_path).with_suffix(".json")
    if card.is_file():
        try:
            profile = profile_from_card(json.loads(card.read_text()), card.parent)
            if profile is not None:
                return DriftMonitor(profile)
        except (OSError, ValueError) as exc:
            logger.warning("no drift profile from %s (%s); learning a baseline instead", card, exc)
    return DriftMonitor()


def _play(
    args: argparse.Namespace,
    source: VideoSource,
    slot: DetectorSlot,
    drift: DriftMonitor,
    video: AnnotatedVideoWriter | None,
    recorder: SessionRecorder,
) -> dict:
    """Run the loop with its consumers; the summary of what it did."""
    info = source.info
    tally = RunTally(DRIFT)
    progress = ProgressLine(info.frame_count) if sys.stderr.isatty() else None
    consumers = [c for c in (recorder, tally, video, progress) if c is not None]
    loop = FrameLoop(
        source, slot, observers={DRIFT: drift}, consumers=consumers, every_frame=args.every_frame
    )
    loop.on_finished(recorder.finish)
    outcome, stopped_by = _wait(loop, args.seconds)
    if progress:
        progress.finish()
    if video:
        video.finish(keep=outcome.error is None)
    if outcome.error is not None:
        raise outcome.error
    return {
        "source": info.name,
        "kind": info.kind,
        "fps": info.fps,
        "size": list(info.size) if info.size else None,
        "model": str(slot.current.path),
        **tally.as_dict(),
        "dropped": outcome.dropped,
        "seconds": round(outcome.seconds, 3),
        "processing_fps": round(tally.frames / outcome.seconds, 2) if outcome.seconds else 0.0,
        "stopped_by": stopped_by,
        "output": str(video.target) if video else None,
    }


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
