"""`tvdesk run A B C` (or `--cameras NAME ...`): several cameras at once without a window,
each in its own live session, all detecting through one `DetectionEngine` that shares the
CPU fairly between them; the summary is per camera."""

from __future__ import annotations

import argparse
import contextlib
import time

from tvdesk.commands.errors import CommandLineError
from tvdesk.commands.run_report import RunTally, camera_summary, print_summary
from tvdesk.config import Settings
from tvdesk.core.session.cameras import find_camera
from tvdesk.core.session.engine import DetectionEngine
from tvdesk.core.session.frame_loop import FrameLoop, LoopOutcome
from tvdesk.core.session.live import DRIFT, LiveSession
from tvdesk.core.session.start import start_session
from tvdesk.core.sources import SourceError, open_source
from tvdesk.core.sources.stream import MASK
from tvdesk.core.store import Store, database_path

WAIT_SLICE_S = 0.2
INTERRUPTED = 130
SINGLE_CAMERA_OPTIONS = ("out", "line", "zone", "camera")


def stored_source(settings: Settings, name: str) -> str:
    """What opens camera `name` again: its stored source (never one whose password the store
    masked)."""
    with Store(database_path(settings.data_dir)) as store:
        camera = find_camera(store, name)
    if MASK in camera.source:
        raise SourceError(
            f"camera {name!r} is a stream with a password, which tvdesk does not store: give "
            "its URL as a SOURCE (with --camera NAME)"
        )
    return camera.source


def run_cameras(args: argparse.Namespace, settings: Settings) -> int:
    """Play every SOURCE and every --cameras NAME at once until they end, --seconds, or Ctrl-C."""
    for option in SINGLE_CAMERA_OPTIONS:
        if getattr(args, option, None):
            raise CommandLineError(f"--{option} is for one camera: give one SOURCE with it")
    wanted = [(spec, None) for spec in args.source]
    wanted += [(stored_source(settings, name), name) for name in args.cameras]
    engine = DetectionEngine()
    plays: list[tuple[LiveSession, FrameLoop, RunTally]] = []
    try:
        for spec, name in wanted:
            plays.append(_play(args, settings, engine, spec, name))
        outcomes, stopped_by = _wait_all([loop for _, loop, _ in plays], args.seconds)
        summaries = _summaries(plays, outcomes, stopped_by, engine)
    finally:
        for session, loop, _ in plays:
            loop.stop()
            session.close()
    print_summary({"cameras": summaries}, args.json) if args.json else _print(summaries)
    return INTERRUPTED if stopped_by == "interrupt" else 0


def _play(
    args: argparse.Namespace,
    settings: Settings,
    engine: DetectionEngine,
    spec: str,
    name: str | None,
) -> tuple[LiveSession, FrameLoop, RunTally]:
    source = open_source(
        spec,
        paced=not args.every_frame,
        scenario=settings.scenario,
        synthetic_fps=settings.synthetic_fps,
        fps=args.fps,
        interval=args.interval,
    )
    try:
        if args.every_frame and source.info.live:
            raise SourceError(f"--every-frame needs files: {source.info.name} is live")
        session = start_session(settings, source.info, camera=name, model=args.model, engine=engine)
    except BaseException:
        source.close()
        raise
    tally = RunTally(DRIFT)
    try:
        loop = session.play(source, consumers=[tally], every_frame=args.every_frame, camera=name)
    except BaseException:
        source.close()
        session.close()
        raise
    return session, loop, tally


def _wait_all(loops: list[FrameLoop], seconds: float | None) -> tuple[list[LoopOutcome], str]:
    deadline = time.monotonic() + seconds if seconds else None
    for loop in loops:
        loop.start()
    stopped_by = "end of sources"
    try:
        while not all(loop.wait(0) is not None for loop in loops):
            if deadline and time.monotonic() >= deadline:
                stopped_by = "time limit"
                break
            time.sleep(WAIT_SLICE_S)
    except KeyboardInterrupt:
        stopped_by = "interrupt"
    for loop in loops:
        loop.stop()
    return [loop.wait() for loop in loops], stopped_by


def _summaries(
    plays: list[tuple[LiveSession, FrameLoop, RunTally]],
    outcomes: list[LoopOutcome],
    stopped_by: str,
    engine: DetectionEngine,
) -> list[dict]:
    shares = engine.shares()
    summaries = []
    for (session, loop, tally), outcome in zip(plays, outcomes, strict=True):
        stream = session.last_stream
        if outcome.error is not None:
            raise outcome.error
        with contextlib.suppress(AttributeError):
            stream.recorder.check_written()
        summary = camera_summary(session, stream, loop.source.info, tally, outcome, stopped_by)
        share = shares.get(f"camera {stream.camera.id}")
        summary["engine"] = {
            "turns": share.turns if share else 0,
            "mean_wait_ms": round(share.mean_wait_ms, 1) if share else 0.0,
        }
        summaries.append(summary)
    return summaries


def _print(summaries: list[dict]) -> None:
    for s in summaries:
        classes = ", ".join(f"{n} {v:g}/frame" for n, v in s["boxes_per_frame"].items())
        print(
            f"{s['camera']}: {s['frames']} frames ({s['processing_fps']:.1f}/s detected), "
            f"{s['dropped']} dropped; {classes or 'no detections'}; drift "
            f"{'tested' if s['drift_tested'] else 'not tested'}, "
            f"{len(s['drift_events'])} event(s); waited {s['engine']['mean_wait_ms']:.0f} ms a "
            "turn"
        )
