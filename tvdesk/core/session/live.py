"""The live session: what happens around the frame loop while a camera plays.

For each source it gives the loop its drift monitor (against the active model's profile),
a capture buffer of recent frames and a session recorder. When the monitor raises an alarm,
the event is saved, its frames are pinned in the capture, and subscribers hear about it with
sample frames and the retraining plan. `approve` queues the retraining; `dismiss` records
the decision and can teach the monitor that the condition is expected. A watcher follows
the registry: when a job promotes a model (or the operator activates or rolls back one), the
detector slot swaps to it between two frames and the monitor takes its profile.

Qt-free: the GUI turns the callbacks into signals; `tvdesk demo --headless` and the tests
use the same session without a window. Callbacks come from the session's threads.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tvdesk.config import RetrainSettings, default_data_dir
from tvdesk.core.detector import DetectorSlot, SwapEvent
from tvdesk.core.drift import DriftMonitor
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.drift.features import FEATURES, IMAGE_FEATURES, detection_features
from tvdesk.core.drift.reference import (
    ProfileError,
    ReferenceProfile,
    robust_mode,
)
from tvdesk.core.drift.status import DriftConfig, DriftStatus
from tvdesk.core.registry import Registry, RegistryError, version_profile
from tvdesk.core.session.capture import CaptureBuffer, load_frame, stored_indices
from tvdesk.core.session.frame_loop import FrameConsumer, FrameObserver, FrameResult, LoopOutcome
from tvdesk.core.session.recorder import SessionRecorder
from tvdesk.core.sources import SourceInfo
from tvdesk.core.store import Store, StoreWriter
from tvdesk.core.store.connection import database_path
from tvdesk.core.store.job import Job, JobState
from tvdesk.core.store.model_version import ModelVersion

logger = logging.getLogger(__name__)

DRIFT = "drift"  # the monitor's name among the loop's observers
SAMPLE_FRAMES = 6  # frames of the drift window shown with an alarm
SAMPLE_WAIT_S = 3.0  # how long an alarm waits for its sample frames to reach the disk
PIN_EVERY_FRAMES = 10  # while an alarm holds, its pin grows this many frames at a time
MAX_PINNED_FRAMES = 1000  # the newest frames of one alarm kept for its retraining
# Fine-tuning time per training image and epoch, YOLOv8n at 320 (rectangular 320x192
# batches, whole model) on one CPU thread of this project's 2-core machines: 45 s an epoch
# of 258 images; a GPU is far faster.
SECONDS_PER_IMAGE_EPOCH = 0.17
# Selection (with its wait for the drifted frames), labelling, dataset, evaluation, export and
# registration: 116 s in the headless demo.
SETUP_SECONDS = 120.0

LABELER_WORDS = {
    "oracle": "oracle: the synthetic camera's exact labels, a simulated annotator",
    "teacher": "teacher: the current model's confident boxes on enhanced frames",
    "import": "imported from an annotation tool",
    "review": "you review them in the label dialog",
}

Approver = Callable[..., Any]  # jobs.retraining.approve_retraining


@dataclass(frozen=True)
class RetrainPlan:
    """What Approve would start, in the operator's terms."""

    labeler: str
    frames: int
    epochs: int  # 0: as many as fit in `train_minutes`
    imgsz: int
    expected_seconds: float
    train_minutes: float = 0.0

    def describe(self) -> str:
        minutes = max(1, round(self.expected_seconds / 60))
        who = LABELER_WORDS.get(self.labeler, self.labeler)
        training = f"{self.epochs} epochs" if self.epochs else f"{self.train_minutes:g} min"
        return (
            f"label {self.frames} frames ({who}), fine-tune {training} at "
            f"{self.imgsz} px: about {minutes} min"
        )


@dataclass(frozen=True)
class AlarmRaised:
    event: DriftEvent  # as stored (with its id)
    samples: tuple[Path, ...]  # JPEGs of frames from the drift window
    plan: RetrainPlan


@dataclass(frozen=True)
class AlarmEnded:
    event: DriftEvent


@dataclass(frozen=True)
class JobQueued:
    job: Job
    queue: str


@dataclass(frozen=True)
class ModelPromoted:
    """The registry's active version changed; the slot swaps to it (see `SwapDone`)."""

    version: ModelVersion
    previous: ModelVersion | None


@dataclass(frozen=True)
class SwapDone:
    swap: SwapEvent


@dataclass(frozen=True)
class SessionError:
    message: str  # a sentence for the operator


LiveEvent = AlarmRaised | AlarmEnded | JobQueued | ModelPromoted | SwapDone | SessionError


@dataclass
class _Stream:
    """What the session keeps for the source playing now."""

    info: SourceInfo
    monitor: DriftMonitor
    capture: CaptureBuffer
    recorder: SessionRecorder
    holding: DriftEvent | None = None  # the alarm in progress, as stored
    alarm_frames: list[int] = field(default_factory=list)  # its frames so far


class LiveSession:
    """The drift-to-retraining loop around one detector slot, source after source."""

    def __init__(
        self,
        slot: DetectorSlot,
        *,
        data_dir: Path | None = None,
        retrain: RetrainSettings | None = None,
        approve_fn: Approver | None = None,
        auto_approve: bool = False,
        drift_config: DriftConfig | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.slot = slot
        self.data_dir = data_dir or default_data_dir()
        self.db_path = database_path(self.data_dir)
        self.retrain = retrain or RetrainSettings()
        self.auto_approve = auto_approve
        self.drift_config = drift_config
        self.poll_s = poll_s
        self._approve_fn = approve_fn
        self._subscribers: list[Callable[[LiveEvent], None]] = []
        self._local = threading.local()
        self._lock = threading.RLock()
        self._stream: _Stream | None = None
        self._events: dict[int, tuple[DriftEvent, Path]] = {}
        self._last_approved: int | None = None
        self.workers: list = []  # local worker processes started by approvals
        self._writer = StoreWriter(self.db_path).start()
        self._inbox: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        active = self.registry.active()
        self._active_id = active.id
        if Path(slot.current.path).resolve() != active.path.resolve():
            self._swap_to(active)
        slot.subscribe(lambda swap: self._publish(SwapDone(swap)))
        self._threads = [
            threading.Thread(target=self._handle_inbox, daemon=True, name="tvdesk-alarms"),
            threading.Thread(target=self._watch_registry, daemon=True, name="tvdesk-registry"),
        ]
        for thread in self._threads:
            thread.start()

    # -- per-thread store ------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """This thread's connection to the database (SQLite connections stay on one thread)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store(self.db_path)
        return store

    @property
    def registry(self) -> Registry:
        return Registry(self.store, self.data_dir)

    # -- sources ---------------------------------------------------------------------------

    @property
    def monitor(self) -> DriftMonitor | None:
        stream = self._stream
        return stream.monitor if stream else None

    @property
    def capture_dir(self) -> Path | None:
        stream = self._stream
        return stream.capture.root if stream else None

    def attach(self, info: SourceInfo) -> tuple[dict[str, FrameObserver], list[FrameConsumer]]:
        """The observers and consumers of a new source's frame loop.

        The synthetic camera is tested against the active model's profile (its training
        world); a real camera first records a baseline of itself, since a model's training
        images are not this camera (`DriftConfig.baseline_seconds`).
        """
        profile = self._active_profile() if info.kind == "synthetic" else None
        monitor = DriftMonitor(profile, self.drift_config)
        capture = CaptureBuffer(self.data_dir / "capture" / _folder_name(info.name))
        recorder = SessionRecorder(self.store, self._writer, info, self.slot.current.version)
        stream = _Stream(info, monitor, capture, recorder)
        with self._lock:
            self._stream = stream
        return {DRIFT: monitor}, [capture, recorder, lambda r: self._respond(stream, r)]

    def detach(self, outcome: LoopOutcome) -> None:
        """The source's loop ended: close its session and capture."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.recorder.finish(outcome)
            stream.capture.close()
            self._writer.flush()

    # -- the operator's decisions ------------------------------------------------------------

    def subscribe(self, callback: Callable[[LiveEvent], None]) -> None:
        self._subscribers.append(callback)

    def plan(self, frames_available: int | None = None) -> RetrainPlan:
        settings = self.retrain
        frames = settings.label_budget
        if frames_available is not None:
            frames = min(frames, frames_available)
        if settings.epochs:
            images = round(frames * (1 - settings.val_fraction)) + settings.replay
            scale = (settings.imgsz / 320) ** 2
            training = images * settings.epochs * SECONDS_PER_IMAGE_EPOCH * scale
        else:
            training = settings.train_minutes * 60
        return RetrainPlan(
            settings.labeler,
            frames,
            settings.epochs,
            settings.imgsz,
            SETUP_SECONDS + training,
            settings.train_minutes,
        )

    def approve(self, event_id: int) -> JobQueued:
        """Queue the retraining of drift event `event_id` (raises QueueUnavailableError etc.)."""
        if self._approve_fn is None:
            raise RuntimeError("this session cannot queue retrainings (no approver given)")
        event, capture_dir = self._event(event_id)
        approved = self._approve_fn(
            self.store, event, capture_dir, self.retrain, data_dir=self.data_dir
        )
        with self._lock:
            self._last_approved = event_id
            if getattr(approved, "worker", None) is not None:
                self.workers.append(approved.worker)
        self.store.drift_events.decide(event_id, "approved")
        queued = JobQueued(approved.job, approved.queue)
        self._publish(queued)
        return queued

    def dismiss(self, event_id: int, expected: bool = False) -> None:
        """Record that the operator dismissed the alarm; with `expected`, the monitor learns
        the condition of its frames as normal, so it stops alarming on it."""
        event, capture_dir = self._event(event_id)
        self.store.drift_events.decide(event_id, "expected" if expected else "dismissed")
        monitor = self.monitor
        if expected and monitor is not None and monitor.profile is not None:
            monitor.set_reference(_with_condition(monitor.profile, capture_dir, event))

    def activate(self, model_id: int) -> ModelVersion:
        """Make `model_id` the active version; the slot swaps to it at once."""
        version = self.registry.activate(model_id)
        self._follow_registry()
        return version

    def rollback(self) -> ModelVersion:
        version = self.registry.rollback()
        self._follow_registry()
        return version

    def close(self) -> None:
        self._closed.set()
        self._inbox.put(None)
        for thread in self._threads:
            thread.join(5.0)
        self._writer.close()

    # -- the session's threads -------------------------------------------------------------

    def _respond(self, stream: _Stream, result: FrameResult) -> None:
        """On the frame thread: hand raised and ended alarms to the alarm thread, and, while
        an alarm holds, its new frames, so that a retraining has all of them to choose from."""
        status = result.observations.get(DRIFT)
        if not isinstance(status, DriftStatus):
            return
        if status.raised or status.ended:
            self._inbox.put((stream, status.raised, status.ended, None))
        elif status.alarm:
            self._inbox.put((stream, None, None, result.frame.index))

    def _handle_inbox(self) -> None:
        while (item := self._inbox.get()) is not None:
            stream, raised, ended, frame_index = item
            try:
                if raised is not None:
                    self._on_raised(stream, raised)
                if ended is not None:
                    self._on_ended(stream, ended)
                if frame_index is not None:
                    self._on_alarm_frame(stream, frame_index)
            except Exception as exc:
                logger.exception("handling a drift alarm failed")
                self._publish(SessionError(f"a drift alarm could not be recorded: {exc}"))

    def _on_raised(self, stream: _Stream, event: DriftEvent) -> None:
        saved = self.store.drift_events.save(event, stream.recorder.session_id)
        stream.capture.pin(saved)
        stream.holding, stream.alarm_frames = saved, list(saved.frame_indices)
        with self._lock:
            self._events[saved.id] = (saved, stream.capture.root)
        samples = _samples(stream.capture, saved)
        plan = self.plan()  # the alarm keeps pinning frames: the budget will be there
        logger.info("drift alarm %d: %s", saved.id, saved.summary)
        self._publish(AlarmRaised(saved, samples, plan))
        if self.auto_approve and not self._retraining_in_progress():
            try:
                self.approve(saved.id)
            except Exception as exc:
                logger.exception("auto-approve of drift event %d failed", saved.id)
                self._publish(SessionError(f"the retraining could not be queued: {exc}"))

    def _on_alarm_frame(self, stream: _Stream, index: int) -> None:
        """Pin the alarm's frames as they come (the pin file is rewritten once a second)."""
        if stream.holding is None:
            return
        stream.alarm_frames.append(index)
        if len(stream.alarm_frames) % PIN_EVERY_FRAMES == 0:
            frames = tuple(stream.alarm_frames[-MAX_PINNED_FRAMES:])
            stream.capture.pin(replace(stream.holding, frame_indices=frames))

    def _on_ended(self, stream: _Stream, event: DriftEvent) -> None:
        if stream.holding is not None:  # keep every frame the alarm pinned while it held
            seen = sorted({*stream.alarm_frames, *event.frame_indices})[-MAX_PINNED_FRAMES:]
            event = replace(event, frame_indices=tuple(seen))
        stream.holding, stream.alarm_frames = None, []
        saved = self.store.drift_events.save(event, stream.recorder.session_id)
        stream.capture.pin(saved)
        with self._lock:
            self._events[saved.id] = (saved, stream.capture.root)
        self._publish(AlarmEnded(saved))

    def _watch_registry(self) -> None:
        while not self._closed.wait(self.poll_s):
            try:
                self._follow_registry()
            except Exception as exc:
                logger.exception("following the model registry failed")
                self._publish(SessionError(f"the model registry cannot be read: {exc}"))

    def _follow_registry(self) -> None:
        """Swap to the registry's active version if it changed since the last look."""
        with self._lock:
            active = self.store.models.active()
            if active is None or active.id == self._active_id:
                return
            previous = self.store.models.get(self._active_id) if self._active_id else None
            self._active_id = active.id
        self._publish(ModelPromoted(active, previous))
        self._swap_to(active)

    def _swap_to(self, version: ModelVersion) -> None:
        swap = self.slot.load_and_swap(version.path)
        if not swap.accepted:
            self._publish(
                SessionError(f"model {version.version} was not swapped in: {swap.reason}")
            )
            return
        stream = self._stream
        if stream is None or stream.monitor.profile is None:
            return
        if stream.info.kind == "synthetic":
            profile = self._active_profile(version)
            if profile is not None:
                stream.monitor.set_reference(profile)
        elif self._last_approved is not None:  # the camera's baseline, plus what was learnt
            event, capture_dir = self._event(self._last_approved)
            try:
                learnt = _with_condition(stream.monitor.profile, capture_dir, event)
            except ProfileError as exc:
                logger.warning("the monitor keeps its baseline: %s", exc)
            else:
                stream.monitor.set_reference(learnt)

    # -- helpers ---------------------------------------------------------------------------

    def _active_profile(self, version: ModelVersion | None = None) -> ReferenceProfile | None:
        try:
            return version_profile(version or self.registry.active())
        except (ProfileError, RegistryError, OSError) as exc:
            logger.warning("no drift profile for the active model (%s); learning a baseline", exc)
            return None

    def _event(self, event_id: int) -> tuple[DriftEvent, Path]:
        with self._lock:
            found = self._events.get(event_id)
        if found is None:
            raise KeyError(f"drift event {event_id} was not raised in this session")
        return found

    def _retraining_in_progress(self) -> bool:
        jobs = self.store.jobs.all(JobState.QUEUED) + self.store.jobs.all(JobState.RUNNING)
        return any(job.kind == "retrain" for job in jobs)

    def _publish(self, event: LiveEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                logger.exception("a live-session subscriber failed on %s", type(event).__name__)


def _folder_name(source_name: str) -> str:
    """A folder name for a source's capture (URLs and paths flattened, passwords dropped)."""
    name = re.sub(r"//[^/@]*@", "//", source_name)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:80] or "source"


def _samples(capture: CaptureBuffer, event: DriftEvent) -> tuple[Path, ...]:
    """Up to SAMPLE_FRAMES JPEGs spread over the event's frames, once they are on disk."""
    indices = list(event.frame_indices)
    if not indices:
        return ()
    spread = np.linspace(0, len(indices) - 1, min(SAMPLE_FRAMES, len(indices))).round()
    wanted = [indices[int(i)] for i in spread]
    capture.flush(SAMPLE_WAIT_S)
    paths = (capture.root / "frames" / f"{i:08d}.jpg" for i in wanted)
    return tuple(p for p in paths if p.exists())


def _with_condition(
    profile: ReferenceProfile, capture_dir: Path, event: DriftEvent
) -> ReferenceProfile:
    """`profile` plus one mode: the condition of the captured frames since the event began."""
    first = min(event.frame_indices, default=0)
    rows = []
    for index in (i for i in stored_indices(capture_dir) if i >= first):  # the condition so far
        try:
            frame = load_frame(capture_dir, index)
        except Exception:
            continue
        image = [frame.features.get(name, np.nan) for name in IMAGE_FEATURES]
        rows.append(np.concatenate([image, detection_features(frame.detections)]))
    if len(rows) < 2:
        raise ProfileError(
            "too few frames of this alarm are captured to learn its condition; "
            "record a new baseline instead"
        )
    mode = robust_mode(np.array(rows, np.float64), FEATURES)
    learnt = ReferenceProfile(profile.features, (mode,)).widened_to(profile)
    return ReferenceProfile(
        profile.features,
        (*profile.modes, *learnt.modes),
        profile.calibration,
        profile.background,
        f"{profile.source} + expected condition of alarm {event.id}",
    )
