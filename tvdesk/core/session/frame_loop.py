"""The frame loop: source -> detector -> observers (drift...) -> consumers, on one worker thread.

No Qt here: the GUI subscribes a consumer that turns each `FrameResult` into a signal; the CLI,
the benchmark and the tests run the very same loop headless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import numpy as np

from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.cadence import DetectionCadence
from tvdesk.core.session.feeds import FrameFeed, feed_for
from tvdesk.core.sources import Frame, SourceError, VideoSource
from tvdesk.core.tracking.carrier import BoxCarrier

logger = logging.getLogger(__name__)

POLL_S = 0.05  # how often a waiting loop looks at its stop and pause flags
STOP_TIMEOUT_S = 0.5
FPS_WINDOW = 30  # frames the reported fps is averaged over


class StageTimesLike(Protocol):
    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float


class DetectorLike(Protocol):
    version: str
    precision: str

    @property
    def timings(self) -> StageTimesLike: ...

    def detect(self, frame: np.ndarray) -> Detections: ...


class DetectorSlotLike(Protocol):
    """What the loop needs of `DetectorSlot`: the detector to use for the next frame."""

    @property
    def current(self) -> DetectorLike: ...


class FrameObserver(Protocol):
    """Anything that watches frames and their detections, e.g. the drift monitor."""

    def update(self, frame: np.ndarray, detections: Detections, timestamp: float) -> object: ...


@dataclass(frozen=True)
class FrameStats:
    """Where one frame's time went (ms), and the loop's running rate and drop count. The
    stage times are of the latest detection (on a frame whose boxes are predicted too)."""

    capture_ms: float
    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float
    total_ms: float  # capture + detection + observers of this frame
    latency_ms: float  # from the frame's capture to its result: includes waiting to be taken
    fps: float  # results per second over the last frames
    dropped: int  # frames passed over since the start
    detect_every: int = 1  # the cadence: one frame in this many is detected


@dataclass(frozen=True)
class FrameResult:
    """An immutable snapshot of one processed frame: safe to hand to another thread."""

    frame: Frame
    detections: Detections
    stats: FrameStats
    model_version: str
    observations: Mapping[str, object]  # each observer's return value, by its name
    precision: str = "fp32"  # what the model file ran in: fp32 or int8 (its int8 copy)
    detected: bool = True  # False: boxes predicted from tracks, no observer saw the frame


FrameConsumer = Callable[[FrameResult], None]


@dataclass(frozen=True)
class LoopOutcome:
    """How a run ended: "ended" (the source finished), "stopped" or "failed" (see `error`)."""

    reason: str
    frames: int
    dropped: int
    seconds: float
    error: BaseException | None = None


class FrameLoop:
    """Runs one source through the detector on its own worker thread until it ends or stops.

    The loop owns `source` from `start()` and closes it. Live sources are read latest-frame-
    wins on a capture thread; files play at real-time pace (skipping late frames) or, with
    `every_frame`, every frame as fast as possible. With `detect_every_max` above 1 and not
    `every_frame`, a `DetectionCadence` detects one frame in k (k adapting to the detector's
    cost, at most `detect_every_max`) and a `BoxCarrier` predicts the boxes of the others;
    observers see the detected frames only, consumers every frame. `slot.current` is read
    once per frame, so a detector swap lands between two frames. An exception anywhere ends
    the run as "failed" with the error in the outcome; it is never swallowed.
    """

    def __init__(
        self,
        source: VideoSource,
        slot: DetectorSlotLike,
        *,
        observers: Mapping[str, FrameObserver] | None = None,
        consumers: Sequence[FrameConsumer] = (),
        every_frame: bool = False,
        detect_with: Callable[[DetectorLike, np.ndarray], Detections] | None = None,
        detect_every_max: int = 1,
    ) -> None:
        """`detect_with(detector, image)`: how a frame is detected (a `DetectionEngine`'s
        turn, when several cameras share the CPU); default: `detector.detect(image)`."""
        most = 1 if every_frame else detect_every_max
        self.source = source
        self.slot = slot
        self._detect_with = detect_with or _detect_alone
        self.observers = dict(observers or {})
        self.consumers = list(consumers)
        self.cadence = DetectionCadence(most)
        self._carrier = BoxCarrier() if most > 1 else None
        self._feed: FrameFeed = feed_for(source, every_frame, late_frames=most - 1)
        self._finished_callbacks: list[Callable[[LoopOutcome], None]] = []
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._seek_to: int | None = None
        self._lock = threading.Lock()
        self._outcome: LoopOutcome | None = None
        self._rates: deque[float] = deque(maxlen=FPS_WINDOW)
        self.frames = 0
        self.model_version = ""  # of the model that detected the frame in hand (observers read it)
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"tvdesk-frameloop {source.info.name}"
        )

    def on_finished(self, callback: Callable[[LoopOutcome], None]) -> None:
        """Call `callback(outcome)` on the worker thread when the run ends; before `start`."""
        self._finished_callbacks.append(callback)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """End the run; True if every thread of the loop ended within `timeout` s.

        The worker ends at once (after the frame in hand). A capture thread blocked in a
        stalled network read cannot be interrupted; it ends by itself within the source's read
        timeout, and `wait()` waits for it.
        """
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._resume.set()
        self._feed.stop()
        if self._thread.ident is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive() and self._feed.join(
            max(0.0, deadline - time.monotonic())
        )

    def wait(self, timeout: float | None = None) -> LoopOutcome | None:
        """The outcome once the run has ended (and its capture thread too), else None."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            return None
        self._feed.join(timeout)
        return self._outcome

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def dropped(self) -> int:
        return self._feed.dropped

    def seek(self, index: int) -> None:
        """Jump to frame `index` (files only); applied between two frames."""
        if not self.source.info.seekable:
            raise SourceError(f"{self.source.info.name} cannot seek: only video files can")
        with self._lock:
            self._seek_to = index

    def _run(self) -> None:
        started = time.monotonic()
        reason, error = "stopped", None
        try:
            self._feed.start()
            reason = self._loop()
        except Exception as exc:
            logger.debug("frame loop of %s failed: %r", self.source.info.name, exc)
            reason, error = "failed", exc
        finally:
            self._feed.stop()
            self._feed.close()
        self._outcome = LoopOutcome(
            reason, self.frames, self._feed.dropped, time.monotonic() - started, error
        )
        for callback in self._finished_callbacks:
            callback(self._outcome)

    def _loop(self) -> str:
        while not self._stop.is_set():
            if not self._resume.is_set():
                self._hold()
                continue
            self._apply_seek()
            frame = self._feed.next(POLL_S)
            if frame is not None:
                self._process(frame)
            elif self._feed.ended:
                return "ended"
        return "stopped"

    def _hold(self) -> None:
        self._feed.pause()
        while not self._resume.wait(POLL_S):
            self._apply_seek()
        self._feed.resume()

    def _apply_seek(self) -> None:
        with self._lock:
            index, self._seek_to = self._seek_to, None
        if index is not None:
            self._feed.seek(index)
            self.cadence.reset()
            if self._carrier is not None:
                self._carrier.reset()

    def _process(self, frame: Frame) -> None:
        started = time.perf_counter()
        detector = self.slot.current  # once per frame: a swap lands between frames
        self.model_version = detector.version
        detected = self.cadence.due(frame)
        if detected:
            detections = self._detect(detector, frame)
            observations = {
                name: observer.update(frame.image, detections, frame.timestamp)
                for name, observer in self.observers.items()
            }
        else:
            detections, observations = self._carrier.predicted(frame.timestamp), {}
        stats = self._stats(frame, detector.timings, (time.perf_counter() - started) * 1000.0)
        result = FrameResult(
            frame,
            detections,
            stats,
            detector.version,
            MappingProxyType(observations),
            detector.precision,
            detected,
        )
        self.frames += 1
        for consumer in self.consumers:
            consumer(result)

    def _detect(self, detector: DetectorLike, frame: Frame) -> Detections:
        """The detector's boxes, waiting for the turn; the cadence and carrier learn them."""
        started = time.perf_counter()
        detections = self._detect_with(detector, frame.image)
        self.cadence.detected(time.perf_counter() - started)
        if self._carrier is not None:
            self._carrier.detected(detections, frame.timestamp)
        return detections

    def _stats(self, frame: Frame, timings: StageTimesLike, work_ms: float) -> FrameStats:
        now = time.monotonic()
        self._rates.append(now)
        span = self._rates[-1] - self._rates[0]
        fps = (len(self._rates) - 1) / span if span > 0 else 0.0
        return FrameStats(
            frame.capture_ms,
            timings.preprocess_ms,
            timings.inference_ms,
            timings.postprocess_ms,
            frame.capture_ms + work_ms,
            (now - frame.captured_at) * 1000.0,
            fps,
            self._feed.dropped,
            self.cadence.every,
        )


def _detect_alone(detector: DetectorLike, image: np.ndarray) -> Detections:
    return detector.detect(image)
