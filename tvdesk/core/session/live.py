"""The live session: what happens around the frame loop while a camera plays.

`play(source)` is the one way to play a camera, for the GUI, `tvdesk run` and the demo: it
finds or creates the source's camera, puts the camera's model version in the detector slot
(with the camera's input size and thresholds), and gives the frame loop a drift monitor on the
camera's reference (`cameras.drift_reference`: the synthetic camera's model profile, or a real
camera's persisted baseline, learnt and kept the first time it plays), the camera's tracking
and counting on its stored lines and zones (`counting.py`; `counting_shapes` edits them), a
capture ring and a session recorder. When the monitor raises an alarm, the event is saved,
its frames are pinned, and subscribers hear about it with sample frames and the retraining
plan; `approve` hands it to the approver, `dismiss` records the decision and can teach the
monitor the condition. A follower swaps the slot when the camera's active version changes in
the store.

Qt-free: the GUI turns the callbacks into signals. Callbacks come from the session's threads.
It is the one class that ties a camera's parts together, which makes it longer than most
modules; the parts live beside it (stream.py, cameras.py, counting.py, counting_shapes.py,
learnt_condition.py, model_follower.py, start.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from tvdesk.config import Settings
from tvdesk.core.detector import DetectorSlot
from tvdesk.core.detector.runtime_choice import runtime_model
from tvdesk.core.drift import DriftMonitor
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile
from tvdesk.core.drift.status import DriftConfig, DriftStatus
from tvdesk.core.registry import Registry
from tvdesk.core.session import cameras
from tvdesk.core.session.approver import Approver
from tvdesk.core.session.capture import CaptureBuffer
from tvdesk.core.session.counting import COUNTS, CameraCounting, store_rows
from tvdesk.core.session.counting_shapes import CountingShapes
from tvdesk.core.session.engine import DetectionEngine
from tvdesk.core.session.events import (
    AlarmEnded,
    AlarmRaised,
    BaselineLearnt,
    DiskSpaceLow,
    JobQueued,
    LiveEvent,
    ModelPromoted,
    RetrainPlan,
    SessionError,
    SwapDone,
)
from tvdesk.core.session.frame_loop import (
    FrameConsumer,
    FrameLoop,
    FrameObserver,
    FrameResult,
    LoopOutcome,
)
from tvdesk.core.session.learnt_condition import reference_after_swap, with_condition
from tvdesk.core.session.model_follower import ModelFollower, same_file, swap_failed_message
from tvdesk.core.session.normal_frames import NormalFrames
from tvdesk.core.session.recorder import SessionRecorder
from tvdesk.core.session.stream import CameraStream, capture_folder_name
from tvdesk.core.sources import SourceInfo, VideoSource
from tvdesk.core.store import Camera, Store, StoreWriter
from tvdesk.core.store.connection import database_path
from tvdesk.core.store.job import JobState
from tvdesk.core.store.model_version import ModelVersion

logger = logging.getLogger(__name__)

DRIFT = "drift"  # the monitor's name among the loop's observers


class LiveSession:
    """The drift-to-retraining loop around one detector slot, camera after camera.

    `settings` gives the data folder, the base models of new cameras, the length of a real
    camera's baseline and the default thresholds. With `model_override` the slot keeps the
    model it was given (`--model`) instead of each camera's active version.
    """

    def __init__(
        self,
        slot: DetectorSlot,
        settings: Settings,
        *,
        approver: Approver | None = None,
        auto_approve: bool | None = None,
        drift_config: DriftConfig | None = None,
        poll_s: float = 1.0,
        model_override: bool = False,
        engine: DetectionEngine | None = None,
    ) -> None:
        self.slot = slot
        self.engine = engine  # shared with the other cameras playing at once, if any
        self.settings = settings
        self.data_dir = settings.data_dir
        self.db_path = database_path(self.data_dir)
        self.approver = approver
        self.auto_approve = settings.auto_approve if auto_approve is None else auto_approve
        self.drift_config = drift_config or DriftConfig(baseline_seconds=settings.baseline_seconds)
        self.model_override = model_override
        self.base_models = cameras.BaseModels(settings.model_path, settings.traffic_model_path)
        self._subscribers: list[Callable[[LiveEvent], None]] = []
        self._local = threading.local()
        self._lock = threading.RLock()
        self._stream: CameraStream | None = None
        self._last_camera: Camera | None = None
        self._last_stream: CameraStream | None = None
        self._events: dict[int, tuple[DriftEvent, Path, Camera]] = {}
        self.counting_shapes = CountingShapes(self)  # the playing camera's lines and zones
        self._writer = StoreWriter(
            self.db_path,
            min_free_mb=settings.min_free_mb,
            on_low_space=lambda message: self._publish(DiskSpaceLow(message)),
        ).start()
        self._inbox: queue.Queue = queue.Queue()
        slot.subscribe(lambda swap: self._publish(SwapDone(swap)))
        self._follower = ModelFollower(
            self.db_path, poll_s, self._on_promoted, self._on_int8_passed
        ).start()
        self._alarms = threading.Thread(
            target=self._handle_inbox, daemon=True, name="tvdesk-alarms"
        )
        self._alarms.start()

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

    # -- playing a camera --------------------------------------------------------------------

    @property
    def stream(self) -> CameraStream | None:
        """The camera playing now, its monitor, capture and recorder; None between cameras."""
        return self._stream

    @property
    def last_stream(self) -> CameraStream | None:
        """The camera playing now, else the last one that played (for its summary)."""
        return self._stream or self._last_stream

    @property
    def camera(self) -> Camera | None:
        """The camera playing now, else the last one that played (what the operator sees)."""
        stream = self._stream
        return stream.camera if stream else self._last_camera

    @property
    def monitor(self) -> DriftMonitor | None:
        stream = self._stream
        return stream.monitor if stream else None

    @property
    def capture_dir(self) -> Path | None:
        stream = self._stream
        return stream.capture.root if stream else None

    def play(
        self,
        source: VideoSource,
        *,
        consumers: Sequence[FrameConsumer] = (),
        every_frame: bool = False,
        camera: str | None = None,
    ) -> FrameLoop:
        """The frame loop (not started yet) that plays `source` as camera `camera` (default: the
        source's own camera), with the session's drift monitor, capture and recorder, then
        `consumers`. The session hears when the loop ends."""
        loop: FrameLoop | None = None  # made below; it names the model of each frame it counts
        observers, own = self.attach(
            source.info, camera, model_version=lambda: loop.model_version if loop else ""
        )
        key = f"camera {self._stream.camera.id}"
        loop = FrameLoop(
            source,
            self.slot,
            observers=observers,
            consumers=[*own, *consumers],
            every_frame=every_frame,
            detect_with=(
                (lambda detector, image: self.engine.detect(key, detector, image))
                if self.engine
                else None
            ),
            detect_every_max=self._stream.camera.detection.detect_every_max
            or self.settings.detect_every_max,
        )
        loop.on_finished(self.detach)
        return loop

    def attach(
        self,
        info: SourceInfo,
        camera_name: str | None = None,
        model_version: Callable[[], str] | None = None,
    ) -> tuple[dict[str, FrameObserver], list[FrameConsumer]]:
        """The observers and consumers of a camera's frame loop (`play` uses them);
        `model_version()` names the model of the frame being counted (default: the slot's)."""
        camera = cameras.open_camera(self.store, self.registry, info, self.base_models, camera_name)
        version = self._put_in_slot(camera)
        monitor = DriftMonitor(
            cameras.drift_reference(camera, version, self.data_dir), self.drift_config
        )
        capture = CaptureBuffer(self.data_dir / "capture" / capture_folder_name(camera))
        recorder = SessionRecorder(
            self.store, self._writer, info, self.slot.current.version, camera_id=camera.id
        )
        normal = None
        if not camera.synthetic:  # kept while it learns its normal, for its retrainings
            folder = cameras.camera_folder(self.data_dir, camera)
            normal = NormalFrames(folder, self.drift_config.baseline_seconds)
        counting = CameraCounting(
            self.store.counters.of_camera(camera.id),
            store_rows(self._writer, camera.id),
            model_version or (lambda: self.slot.current.version),
        )
        stream = CameraStream(info, camera, monitor, capture, recorder, counting, normal)
        monitor.on_baseline = lambda profile: self._inbox.put((stream, "baseline", profile))
        with self._lock:
            self._stream, self._last_stream, self._last_camera = stream, stream, camera
        self._follower.follow(None if self.model_override else camera.id, camera.model_id)
        consumers = [capture, recorder, *([normal] if normal else [])]
        observers = {DRIFT: monitor, COUNTS: counting}
        return observers, [*consumers, lambda r: self._respond(stream, r)]

    def detach(self, outcome: LoopOutcome) -> None:
        """The camera's loop ended: close its session and capture."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.counting.finish()
            stream.recorder.finish(outcome)
            stream.capture.close()
            self._writer.flush()

    # -- the operator's decisions ------------------------------------------------------------

    def subscribe(self, callback: Callable[[LiveEvent], None]) -> None:
        self._subscribers.append(callback)

    def plan(self, frames_available: int | None = None) -> RetrainPlan | None:
        """What Approve would start for the camera playing; None when this session cannot
        queue retrainings."""
        return self.approver.plan(self.camera, frames_available) if self.approver else None

    def approve(self, event_id: int, labels: str | None = None) -> JobQueued:
        """Queue the retraining of drift event `event_id`, on `labels` (a labelling tool's
        export) when given; raises with a sentence if it cannot."""
        if self.approver is None:
            raise RuntimeError("this session cannot queue retrainings (no approver given)")
        event, capture_dir, camera = self._event(event_id)
        approved = self.approver.approve(self.store, event, capture_dir, camera, labels)
        self.store.drift_events.decide(event_id, "approved")
        queued = JobQueued(approved.job, approved.queue)
        self._publish(queued)
        return queued

    def dismiss(self, event_id: int, expected: bool = False) -> None:
        """Record that the operator dismissed the alarm; with `expected`, the camera learns the
        condition of its frames as normal (kept with its reference), so it stops alarming."""
        event, capture_dir, camera = self._event(event_id)
        self.store.drift_events.decide(event_id, "expected" if expected else "dismissed")
        monitor = self.monitor
        if expected and monitor is not None and monitor.profile is not None:
            self._learn(with_condition(monitor.profile, capture_dir, event), camera)

    def activate(self, model_id: int) -> ModelVersion:
        """Make the playing camera run `model_id`; the slot swaps to it at once."""
        version = self.registry.activate(self._current_camera().id, model_id)
        self._follower.check(self.store)
        return version

    def rollback(self) -> ModelVersion:
        """Make the playing camera run the parent of its version."""
        version = self.registry.rollback(self._current_camera().id)
        self._follower.check(self.store)
        return version

    def relearn(self) -> None:
        """The playing camera learns its normal again from now on (the operator's 'this is
        normal'); the old reference stays until the new one is complete."""
        stream = self._stream
        if stream is None:
            raise RuntimeError("no camera is playing: open one first")
        if stream.normal is not None:
            stream.normal.restart()
        stream.monitor.start_baseline()

    def rename_camera(self, name: str) -> Camera:
        camera = self.store.cameras.rename(self._current_camera().id, name)
        self._replace_camera(camera)
        return camera

    def close(self) -> None:
        self._follower.close()
        self._inbox.put(None)
        self._alarms.join(5.0)
        self._writer.close()

    # -- the camera in the slot ------------------------------------------------------------------

    def _put_in_slot(self, camera: Camera) -> ModelVersion | None:
        """The camera's version in the slot (unless an override plays); its version or None."""
        version = None if self.model_override else self.registry.version_of(camera)
        imgsz = cameras.input_size(camera, self.settings.traffic_imgsz)
        swap = cameras.put_in_slot(
            self.slot, camera, version, imgsz, self.data_dir, time_int8_in_background=True
        )
        if swap is not None and not swap.accepted and version is not None:
            self._publish(SessionError(swap_failed_message(version, swap)))
        return version

    def _current_camera(self) -> Camera:
        camera = self.camera
        if camera is None:
            raise RuntimeError("no camera has played yet: open one first")
        return camera

    def _replace_camera(self, camera: Camera) -> None:
        with self._lock:
            if self._stream is not None and self._stream.camera.id == camera.id:
                self._stream.camera = camera
            if self._last_camera is not None and self._last_camera.id == camera.id:
                self._last_camera = camera

    # -- the session's threads -------------------------------------------------------------

    def _respond(self, stream: CameraStream, result: FrameResult) -> None:
        """On the frame thread: hand raised and ended alarms to the alarm thread, and, while
        an alarm holds, its new frames, so that a retraining has all of them to choose from."""
        status = result.observations.get(DRIFT)
        if not isinstance(status, DriftStatus):
            return
        if status.raised is not None:
            self._inbox.put((stream, "raised", status.raised))
        if status.ended is not None:
            self._inbox.put((stream, "ended", status.ended))
        if status.alarm and status.raised is None:
            self._inbox.put((stream, "frame", result.frame.index))

    def _handle_inbox(self) -> None:
        handlers = {
            "raised": self._on_raised,
            "ended": self._on_ended,
            "frame": lambda stream, index: stream.alarm_frame(index),
            "baseline": self._on_baseline,
        }
        while (item := self._inbox.get()) is not None:
            stream, kind, value = item
            try:
                handlers[kind](stream, value)
            except Exception as exc:
                logger.exception("handling %s of camera %s failed", kind, stream.camera.name)
                self._publish(SessionError(f"the drift {kind} could not be recorded: {exc}"))

    def _on_raised(self, stream: CameraStream, event: DriftEvent) -> None:
        saved = stream.alarm_raised(self.store, event)
        with self._lock:
            self._events[saved.id] = (saved, stream.capture.root, stream.camera)
        samples = stream.samples(saved)
        logger.info("drift alarm %d on %s: %s", saved.id, stream.camera.name, saved.summary)
        self._publish(AlarmRaised(saved, samples, self.plan(), stream.camera))
        if self.auto_approve and self.approver and not self._retraining_in_progress():
            try:
                self.approve(saved.id)
            except Exception as exc:
                logger.exception("auto-approve of drift event %d failed", saved.id)
                self._publish(SessionError(f"the retraining could not be queued: {exc}"))

    def _on_ended(self, stream: CameraStream, event: DriftEvent) -> None:
        saved = stream.alarm_ended(self.store, event)
        with self._lock:
            self._events[saved.id] = (saved, stream.capture.root, stream.camera)
        self._publish(AlarmEnded(saved))

    def _on_baseline(self, stream: CameraStream, profile: ReferenceProfile) -> None:
        """The camera's own normal is learnt: keep it (a real camera's reference)."""
        camera = stream.camera
        if not camera.synthetic:
            if stream.normal is not None:
                stream.normal.commit()
            camera = cameras.save_reference(self.store, self.data_dir, camera, profile)
            stream.camera = camera
            self._replace_camera(camera)
        logger.info("camera %s: learnt its baseline (%s)", camera.name, profile.source)
        self._publish(BaselineLearnt(camera, self.drift_config.baseline_seconds))

    def _on_promoted(self, version: ModelVersion, previous: ModelVersion | None) -> None:
        """On the follower's thread: the camera's version changed; swap and re-reference."""
        self._publish(ModelPromoted(version, previous))
        stream = self._stream
        imgsz = self.slot.current.options.imgsz
        threads = self.slot.current.options.threads
        path = runtime_model(version.path, imgsz, self.data_dir, threads=threads)
        swap = self.slot.load_and_swap(path, imgsz=imgsz)
        if not swap.accepted:
            self._publish(SessionError(swap_failed_message(version, swap)))
            return
        if stream is None or stream.monitor.profile is None:
            return
        try:
            profile = reference_after_swap(
                self.store, stream.camera, stream.monitor.profile, version
            )
            if profile is not None:
                self._learn(profile, stream.camera)
        except (ProfileError, OSError, ValueError) as exc:
            logger.warning("camera %s keeps its reference: %s", stream.camera.name, exc)

    def _on_int8_passed(self, version: ModelVersion) -> None:
        """On the follower's thread: the camera's version, live in fp32, got an int8 copy that
        passed its gate; run it where it is faster here (`runtime_model` times it once), in
        place of that fp32 model only (another swap may come while it is timed)."""
        if not same_file(self.slot, version.path):  # the slot runs something else meanwhile
            return
        options = self.slot.current.options
        path = runtime_model(version.path, options.imgsz, self.data_dir, threads=options.threads)
        if path == version.path:  # fp32 runs faster here
            return
        swap = self.slot.load_and_swap(path, imgsz=options.imgsz, replacing=version.path)
        if swap is not None and not swap.accepted:
            self._publish(SessionError(swap_failed_message(version, swap)))

    def _learn(self, profile: ReferenceProfile, camera: Camera) -> None:
        """Test against `profile` from now on, and keep it as a real camera's reference."""
        monitor = self.monitor
        if monitor is not None:
            monitor.set_reference(profile)
        if not camera.synthetic:
            self._replace_camera(cameras.save_reference(self.store, self.data_dir, camera, profile))

    # -- helpers ---------------------------------------------------------------------------

    def _event(self, event_id: int) -> tuple[DriftEvent, Path, Camera]:
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
