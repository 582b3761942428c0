"""Live sources read through OpenCV (webcams, network streams) that reconnect by themselves.

Every open and read is bounded by a timeout, so a camera that vanishes or a stream that stalls
becomes a "disconnected" event and a reconnect with backoff, never a frozen reader.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from tvdesk.core.sources.base import (
    Frame,
    SourceError,
    SourceInfo,
    VideoSource,
    make_frame,
    read_timed,
)


@dataclass(frozen=True)
class ReconnectPolicy:
    """How long a live source waits before calling it a drop, and how it retries."""

    open_timeout_s: float = field(
        default=5.0,
        metadata={"help": "longest wait to connect to a stream before the attempt fails"},
    )
    read_timeout_s: float = field(
        default=5.0,
        metadata={"help": "a read that waits longer than this counts as a dropped stream"},
    )
    first_delay_s: float = field(default=0.5, metadata={"help": "wait before the first retry"})
    max_delay_s: float = field(
        default=10.0, metadata={"help": "the retry wait doubles up to this, then stays"}
    )

    def capture_params(self) -> list[int]:
        """FFmpeg's open and read timeouts, as OpenCV capture parameters."""
        return [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.read_timeout_s * 1000),
        ]


class Capture(Protocol):
    """What a reconnecting source reads: OpenCV's VideoCapture, or anything read like it."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def get(self, prop_id: int) -> float: ...

    def release(self) -> None: ...


class ReconnectingSource(VideoSource):
    """A live capture: opened (and checked for a first frame) on creation, reopened on drops.

    The first open must succeed, so a wrong address is an error at once; after that a drop
    is an event and the source keeps retrying until it is interrupted.
    """

    kind = "live"

    def __init__(self, policy: ReconnectPolicy) -> None:
        super().__init__()
        self.policy = policy
        self.reconnects = 0
        self._cap = self._open()
        if self._cap is None:
            raise SourceError(self._unreachable_message())
        self._pending = read_timed(self._cap)
        if self._pending is None:
            self._cap.release()
            raise SourceError(
                f"{self.name} opened but sent no frame within "
                f"{policy.read_timeout_s:g} s: it is not a video stream, or it is "
                "not sending; check the address"
            )
        height, width = self._pending[0].shape[:2]
        self._size = (width, height)
        self._fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or None
        self._started = time.monotonic()
        self._index = 0

    @property
    @abstractmethod
    def name(self) -> str:
        """How the source is shown: never with credentials."""

    @abstractmethod
    def _open(self) -> Capture | None:
        """An opened capture, or None if it could not be opened now."""

    @abstractmethod
    def _unreachable_message(self) -> str:
        """Why the first open failed and what to do, as one sentence."""

    def _failure(self) -> str | None:
        """Why the last read or open failed, when the source knows (shown in its events)."""
        return None

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(
            self.kind, self.name, self._fps, self._size, None, live=True, seekable=False
        )

    def read(self) -> Frame | None:
        while not self._interrupted.is_set():
            decoded = self._pending or (read_timed(self._cap) if self._cap is not None else None)
            self._pending = None
            if decoded is not None:
                image, ms = decoded
                frame = make_frame(image, self._index, time.monotonic() - self._started, ms)
                self._index += 1
                return frame
            if self._interrupted.is_set():
                break  # the read was cut short on purpose: not a drop
            if self._cap is not None:
                self._drop()
            self._reconnect()
        return None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _drop(self) -> None:
        self.close()
        reason = self._failure() or "dropped, or stalled past its read timeout"
        self._emit("disconnected", f"{self.name} stopped sending frames ({reason}); reconnecting")

    def _reconnect(self) -> None:
        """Retry with doubling waits until the capture reopens or the source is interrupted."""
        lost_at, delay, attempt = time.monotonic(), self.policy.first_delay_s, 0
        while not self._interrupted.wait(delay):
            attempt += 1
            cap = self._open()
            if cap is not None:
                self._cap = cap
                self.reconnects += 1
                self._emit(
                    "reconnected",
                    f"{self.name}: reconnected after {time.monotonic() - lost_at:.1f} s",
                )
                return
            delay = min(delay * 2, self.policy.max_delay_s)
            reason = f" ({self._failure()})" if self._failure() else ""
            self._emit(
                "reconnecting",
                f"{self.name}: reconnect attempt {attempt} failed{reason}; next in {delay:g} s",
            )


class WebcamSource(ReconnectingSource):
    """A local camera by its index (0 is the first)."""

    kind = "webcam"

    def __init__(self, index: int, policy: ReconnectPolicy | None = None) -> None:
        self.index = index
        super().__init__(policy or ReconnectPolicy())

    @property
    def name(self) -> str:
        return f"webcam {self.index}"

    def _open(self) -> cv2.VideoCapture | None:
        # The timeouts are FFmpeg's; a camera driver bounds its own reads (V4L2: 10 s).
        cap = cv2.VideoCapture(self.index)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _unreachable_message(self) -> str:
        return (
            f"no webcam at index {self.index}: check that the camera is connected and "
            "not in use by another program, or try another index"
        )
