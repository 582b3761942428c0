"""What every video source gives: frames with their index and time, a description, and events.

A source is read by one thread at a time (the frame loop's or its capture thread); only
`interrupt` and `subscribe` may be called from elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tvdesk.core.synth.conditions import Conditions
from tvdesk.core.synth.render import GroundTruth

logger = logging.getLogger(__name__)


class SourceError(Exception):
    """A source cannot be opened or read; the message says which one and what to do."""


@dataclass(frozen=True)
class Frame:
    """One captured image and where it sits in its stream. The image is read-only.

    `index` is the position in a file, or the count of frames captured so far from a live
    source (gaps are frames that were dropped). `timestamp` is stream time in seconds;
    `captured_at` is `time.monotonic()` when the frame was read, to measure latency.
    `truth` and `conditions` are known only for synthetic frames.
    """

    image: np.ndarray
    index: int
    timestamp: float
    captured_at: float
    capture_ms: float
    truth: GroundTruth | None = None
    conditions: Conditions | None = None


def make_frame(
    image: np.ndarray, index: int, timestamp: float, capture_ms: float, **extra
) -> Frame:
    """A `Frame` stamped now, with its image locked against writes."""
    image.flags.writeable = False
    return Frame(image, index, timestamp, time.monotonic(), capture_ms, **extra)


def read_timed(capture) -> tuple[np.ndarray, float] | None:
    """The next image of an OpenCV capture and the ms it took, or None if none came."""
    start = time.perf_counter()
    ok, image = capture.read()
    if not ok or image is None:
        return None
    return image, (time.perf_counter() - start) * 1000.0


@dataclass(frozen=True)
class SourceInfo:
    """What a source is. Unknown values are None (a webcam has no frame count)."""

    kind: str  # "file", "images", "webcam", "stream", "snapshot" or "synthetic"
    name: str  # safe to show and store: URL credentials are masked
    fps: float | None
    size: tuple[int, int] | None  # (width, height)
    frame_count: int | None
    live: bool  # frames come at the device's pace; a reader must keep up or drop
    seekable: bool


@dataclass(frozen=True)
class SourceEvent:
    """Something the operator should know: a stream dropped, is reconnecting, came back..."""

    kind: str  # "disconnected", "reconnecting", "reconnected" or "short"
    message: str
    at: float  # time.time()


class VideoSource(ABC):
    """The one source interface: read frames in order until None (the end, or interrupted)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[SourceEvent], None]] = []
        self._interrupted = threading.Event()

    @property
    @abstractmethod
    def info(self) -> SourceInfo: ...

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame; None at the end or once interrupted. Raises SourceError."""

    def skip(self, count: int) -> bool:
        """Pass over `count` frames without using them; False if the source ended first."""
        return all(self.read() is not None for _ in range(count))

    def seek(self, index: int) -> None:
        raise SourceError(f"{self.info.name} cannot seek: only video files can")

    def interrupt(self) -> None:
        """Make a blocked or future `read` return None soon; safe from any thread."""
        self._interrupted.set()

    @abstractmethod
    def close(self) -> None:
        """Release the device or file; called by the thread that reads."""

    def subscribe(self, callback: Callable[[SourceEvent], None]) -> None:
        """Call `callback(event)` for each event, on the reading thread."""
        self._listeners.append(callback)

    def _emit(self, kind: str, message: str) -> None:
        logger.info("%s", message)
        event = SourceEvent(kind, message, time.time())
        for callback in list(self._listeners):
            callback(event)

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
