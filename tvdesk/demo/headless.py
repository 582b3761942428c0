"""The self-correcting loop, headless: a camera sees day, then night; the drift monitor raises
an alarm, the retraining is approved, a new model is promoted and swapped in while frames keep
coming, and again after each refinement round that passes its gate. `HeadlessDemo.run` plays
it through the same `LiveSession` the GUI uses until the job has ended and its last version
has been shown, and returns the timeline and the events, for `tvdesk demo --headless` to
measure and report.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tvdesk.config import Settings
from tvdesk.core.detector.detections import match_boxes
from tvdesk.core.drift.status import DriftConfig, DriftStatus
from tvdesk.core.session.approver import Approver
from tvdesk.core.session.events import AlarmRaised, JobQueued, LiveEvent, SwapDone
from tvdesk.core.session.frame_loop import FrameLoop, FrameResult
from tvdesk.core.session.live import DRIFT
from tvdesk.core.session.start import start_session
from tvdesk.core.sources import PlaylistSource, SyntheticSource, VideoSource
from tvdesk.core.store import Store
from tvdesk.core.store.connection import database_path
from tvdesk.core.store.job import Job
from tvdesk.core.synth.camera import Scenario, Segment

logger = logging.getLogger(__name__)

NIGHT_HOLD_S = 24 * 3600.0  # the demo's night lasts until the demo stops
MATCH_IOU = 0.5  # a detection counts as right when it overlaps a true box this much
SWAP_WINDOW_S = 2.0  # frame intervals this close to a swap are the swap's
# Stream seconds a run goes on after its job ended before it may stop: the last version's int8
# copy, recorded as the job ends, is taken up within a poll of the follower and a timing.
INT8_TAKE_UP_S = 5.0
WAIT_SLICE_S = 0.2
JOB_POLL_S = 1.0  # how often the demo reads its job's state


@dataclass(frozen=True)
class DemoOptions:
    day_s: float = 60.0  # synthetic: seconds of day before night begins to fall
    fade_s: float = 10.0  # synthetic: seconds the fall of night takes
    fps: float = 10.0
    seed: int = 0
    after_swap_s: float = 30.0  # stream seconds shown with the last new model before stopping
    no_approval_s: float = 60.0  # without approval: stream seconds after night, then stop
    max_job_s: float = 1800.0  # wall seconds from approval to a finished job at most
    videos: tuple[Path, ...] = ()  # real clips played in order instead of the synthetic camera
    baseline_s: float = 20.0  # real clips: seconds of the first clip learnt as normal
    auto_approve: bool = True

    @property
    def night_complete_s(self) -> float:
        return self.day_s + self.fade_s


def demo_scenario(day_s: float, fade_s: float) -> Scenario:
    """Day, then night falls over `fade_s` and stays."""
    return Scenario(
        f"demo day {day_s:g}s, night",
        (
            Segment("day", day_s),
            Segment("night", fade_s, fade=True),
            Segment("night", NIGHT_HOLD_S),
        ),
    )


def demo_source(options: DemoOptions) -> VideoSource:
    """The real clips one after another (the last one again and again, as the night goes on
    while the retraining runs), or the synthetic camera from day into night."""
    if options.videos:
        return PlaylistSource(options.videos, repeat_last=True)
    scenario = demo_scenario(options.day_s, options.fade_s)
    return SyntheticSource(scenario, fps=options.fps, seed=options.seed)


@dataclass(frozen=True)
class FrameRecord:
    """One processed frame as the report needs it."""

    wall: float  # time.monotonic() when the frame was done
    stream: float  # stream time (s)
    index: int
    detections: int
    mean_confidence: float  # NaN without detections
    drift_ratio: float  # the largest |statistic| / threshold of the drift test
    alarm: bool
    model_version: str
    dropped: int  # frames passed over since the start
    truth: int = -1  # true boxes (synthetic frames); -1 unknown
    correct: int = -1  # detections matching a true box


class Timeline:
    """A frame consumer that keeps a `FrameRecord` per detected frame (a frame whose boxes
    were predicted has no drift status and no detector's recall to measure)."""

    def __init__(self) -> None:
        self.records: list[FrameRecord] = []
        self._lock = threading.Lock()

    def __call__(self, result: FrameResult) -> None:
        if not result.detected:
            return
        det = result.detections
        status = result.observations.get(DRIFT)
        ratio, alarm = 0.0, False
        if isinstance(status, DriftStatus):
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = np.abs(status.statistic) / status.threshold
            finite = ratios[np.isfinite(ratios)]
            ratio, alarm = float(finite.max()) if finite.size else 0.0, status.alarm
        truth, correct = -1, -1
        if result.frame.truth is not None:
            gt = result.frame.truth
            truth = len(gt.boxes)
            correct = len(match_boxes(det.xyxy, det.class_ids, gt.boxes, gt.class_ids, MATCH_IOU))
        record = FrameRecord(
            time.monotonic(),
            result.frame.timestamp,
            result.frame.index,
            len(det),
            float(det.scores.mean()) if len(det) else float("nan"),
            ratio,
            alarm,
            result.model_version,
            result.stats.dropped,
            truth,
            correct,
        )
        with self._lock:
            self.records.append(record)

    def snapshot(self) -> list[FrameRecord]:
        with self._lock:
            return list(self.records)

    @property
    def last_stream_time(self) -> float:
        with self._lock:
            return self.records[-1].stream if self.records else 0.0


@dataclass(frozen=True)
class TimedEvent:
    wall: float  # time.monotonic()
    stream: float  # the stream time of the newest frame then
    event: LiveEvent


@dataclass
class DemoRun:
    """What happened: every frame, every session event, and how the loop ended."""

    options: DemoOptions
    records: list[FrameRecord]
    events: list[TimedEvent]
    outcome: str
    job_state: str | None = None
    job_message: str = ""
    job_result: dict = field(default_factory=dict)
    started_version: str = ""
    data_dir: Path | None = None


class HeadlessDemo:
    """Plays the demo source through a `LiveSession` until the new model has been shown.

    `settings` give the demo's data folder and models; `approver` queues its retraining (the
    caller stops the workers it started)."""

    def __init__(
        self,
        options: DemoOptions,
        settings: Settings,
        approver: Approver | None,
        source: VideoSource | None = None,
    ) -> None:
        """`source` plays instead of the demo's own (the real-weather benchmark's stream)."""
        self.options = options
        self.settings = settings
        self.given_source = source
        self.data_dir = settings.data_dir
        self.approver = approver
        self.timeline = Timeline()
        self.events: list[TimedEvent] = []
        self._job: Job | None = None
        self._job_read = 0.0
        self._job_ended_at: float | None = None  # stream time the job was first seen ended

    def run(self, on_event: Callable[[TimedEvent], None] | None = None) -> DemoRun:
        options = self.options
        source = self._source()
        session = start_session(
            self.settings,
            source.info,
            approver=self.approver,
            auto_approve=options.auto_approve,
            drift_config=DriftConfig(baseline_seconds=options.baseline_s),
            poll_s=0.5,
        )

        def record(event: LiveEvent) -> None:
            timed = TimedEvent(time.monotonic(), self.timeline.last_stream_time, event)
            self.events.append(timed)
            if on_event:
                on_event(timed)

        session.subscribe(record)
        loop = session.play(source, consumers=[self.timeline])
        started_version = session.registry.version_of(session.camera).version
        loop.start()
        try:
            outcome = self._wait(loop)
        finally:
            loop.stop()
            loop.wait(10.0)
            session.close()
        run = DemoRun(
            options,
            self.timeline.snapshot(),
            list(self.events),
            outcome,
            started_version=started_version,
            data_dir=self.data_dir,
        )
        job = self._read_job(force=True)
        if job is not None:
            run.job_state, run.job_message, run.job_result = str(job.state), job.message, job.result
        return run

    def _source(self) -> VideoSource:
        return self.given_source or demo_source(self.options)

    def _wait(self, loop: FrameLoop) -> str:
        """Until the source ends, the job has ended and its last new model has been shown long
        enough, the job ended without a new model, or nothing more can happen."""
        options = self.options
        approved_at: float | None = None
        while (outcome := loop.wait(WAIT_SLICE_S)) is None:
            now, stream_t = time.monotonic(), self.timeline.last_stream_time
            if approved_at is None and any(isinstance(t.event, JobQueued) for t in self.events):
                approved_at = now
            job = self._read_job()
            if job is not None and job.state.finished:
                if self._job_ended_at is None:
                    self._job_ended_at = stream_t
                if job.result.get("promoted") is not True:
                    return "job ended without a new model"
                if self._last_model_shown(job, stream_t):
                    return "new model shown"
            if approved_at is not None:
                if now - approved_at > options.max_job_s:
                    return "job took too long"
            elif stream_t > options.night_complete_s + options.no_approval_s and not (
                options.videos or self.given_source
            ):
                return "no approval"
        return outcome.reason

    def _last_model_shown(self, job: Job, stream_t: float) -> bool:
        """Every version the job promoted is swapped in, the last for `after_swap_s` (its int8
        copy, taken up after the job ended, counts as the last swap)."""
        swaps = [t for t in self.events if isinstance(t.event, SwapDone) and t.event.swap.accepted]
        promoted = len(job.result.get("model_ids", [])) or 1
        ended = self._job_ended_at if self._job_ended_at is not None else stream_t
        return (
            len(swaps) >= promoted
            and stream_t >= ended + INT8_TAKE_UP_S
            and stream_t >= swaps[-1].stream + self.options.after_swap_s
        )

    def _read_job(self, force: bool = False) -> Job | None:
        """The approved job as the store has it now (read at most every JOB_POLL_S)."""
        queued = [t.event for t in self.events if isinstance(t.event, JobQueued)]
        now = time.monotonic()
        if queued and (force or now - self._job_read >= JOB_POLL_S):
            self._job_read = now
            with Store(database_path(self.data_dir)) as store:
                self._job = store.jobs.get(queued[0].job.id)
        return self._job


def alarm_events(run: DemoRun) -> list[TimedEvent]:
    return [t for t in run.events if isinstance(t.event, AlarmRaised)]


def accepted_swaps(run: DemoRun) -> list[TimedEvent]:
    return [t for t in run.events if isinstance(t.event, SwapDone) and t.event.swap.accepted]


def swap_figures(run: DemoRun, swap: TimedEvent | None = None) -> dict | None:
    """Frame intervals and drops around `swap` (default: the first accepted swap)."""
    swaps = accepted_swaps(run)
    swap = swap or (swaps[0] if swaps else None)
    records = run.records
    if swap is None or len(records) < 3:
        return None
    at = swap.wall
    walls = np.array([r.wall for r in records])
    intervals = np.diff(walls) * 1000.0
    near = np.abs(walls[1:] - at) <= SWAP_WINDOW_S
    before = [r for r in records if r.wall < at - SWAP_WINDOW_S]
    after = [r for r in records if r.wall <= at + SWAP_WINDOW_S]
    dropped = (after[-1].dropped - before[-1].dropped) if before and after else None
    median = float(np.median(intervals))
    worst = float(intervals[near].max()) if near.any() else median
    return {
        "version": swap.event.swap.new_version,
        "file": swap.event.swap.path.name,  # model.int8.onnx: a version's int8 copy taken up
        "load_ms": swap.event.swap.load_ms,
        "warmup_ms": swap.event.swap.warmup_ms,
        "frames_dropped_during_swap": dropped,
        "frames_after_swap": sum(1 for r in records if r.wall > at),
        "interval_median_ms": round(median, 1),
        "interval_max_during_swap_ms": round(worst, 1),
        "max_over_median": round(worst / median, 3) if median else None,
    }


def quality_bins(records: list[FrameRecord], seconds: float = 10.0) -> list[dict]:
    """Per `seconds` of stream: detections, confidence, and (synthetic) recall and precision."""
    bins: dict[int, list[FrameRecord]] = {}
    for r in records:
        bins.setdefault(int(r.stream // seconds), []).append(r)
    rows = []
    for key in sorted(bins):
        group = bins[key]
        scores = [r.mean_confidence for r in group if r.detections]
        known = [r for r in group if r.truth >= 0]
        truth = sum(r.truth for r in known)
        found = sum(r.detections for r in known)
        correct = sum(r.correct for r in known)
        rows.append(
            {
                "from_s": key * seconds,
                "frames": len(group),
                "model": statistics.mode(r.model_version for r in group),
                "detections_per_frame": round(sum(r.detections for r in group) / len(group), 2),
                "mean_confidence": round(statistics.fmean(scores), 3) if scores else None,
                "recall": round(correct / truth, 3) if truth else None,
                "precision": round(correct / found, 3) if found else None,
                "drift_ratio": round(max(r.drift_ratio for r in group), 2),
            }
        )
    return rows
