"""How the frame loop gets its next frame: every frame, real-time pace, or the newest live one.

A feed is driven by the loop's worker thread; `stop` may come from any thread and makes a
waiting `next` return soon.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABC, abstractmethod

from tvdesk.core.sources import Frame, LatestFrameCapture, VideoSource

logger = logging.getLogger(__name__)

READ_AHEAD = 3  # frames decoded ahead in every-frame mode: enough to hide decoding jitter
POLL_S = 0.05  # how often a waiting reader looks at its stop flag


class FrameFeed(ABC):
    """Hands the loop its frames. `next` returns None when no frame is due yet."""

    def __init__(self, source: VideoSource) -> None:
        self.source = source
        self.ended = False
        self._stopping = threading.Event()

    @property
    @abstractmethod
    def dropped(self) -> int:
        """Frames passed over so far because the loop was slower than the source."""

    @abstractmethod
    def next(self, timeout: float) -> Frame | None:
        """The next frame to process; None if none is due within `timeout` s (or it ended)."""

    def start(self) -> None:  # noqa: B027 - only feeds with their own thread start one
        """Begin capturing."""

    def pause(self) -> None:  # noqa: B027 - reading nothing is pause enough for most feeds
        """Hold the stream's clock (files) or discard frames while paused (live)."""

    def resume(self) -> None:  # noqa: B027
        """Undo `pause`."""

    def seek(self, index: int) -> None:
        self.source.seek(index)

    def stop(self) -> None:
        """Make a waiting `next` return; safe from any thread."""
        self._stopping.set()
        self.source.interrupt()

    def close(self) -> None:
        """Release the source; called by the loop's thread when it ends."""
        self.source.close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the feed's own threads, if any; True once none is left."""
        return True


class ReadAheadFeed(FrameFeed):
    """Every frame in order, none dropped; a reader thread decodes a few frames ahead, so
    decoding the next frame overlaps detecting this one.

    A seek bumps a generation number: frames read before it are recognised and discarded.
    The reader thread owns the source and closes it when it ends.
    """

    def __init__(self, source: VideoSource) -> None:
        super().__init__(source)
        self._queue: queue.Queue[tuple[int, Frame | BaseException | None]] = queue.Queue(READ_AHEAD)
        self._lock = threading.Lock()
        self._generation = 0
        self._seek_to: int | None = None
        self._thread = threading.Thread(
            target=self._read_all, daemon=True, name=f"tvdesk-reader {source.info.name}"
        )

    @property
    def dropped(self) -> int:
        return 0

    def start(self) -> None:
        self._thread.start()

    def next(self, timeout: float) -> Frame | None:
        try:
            generation, item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if generation != self._generation:
            return None  # read before a seek
        if isinstance(item, BaseException):
            self.ended = True
            raise item
        self.ended = item is None
        return item

    def seek(self, index: int) -> None:
        with self._lock:
            self._generation += 1
            self._seek_to = index
        self.ended = False
        while not self._queue.empty():
            self._queue.get_nowait()

    def close(self) -> None:
        """The reader thread closes the source itself when it ends."""

    def join(self, timeout: float | None = None) -> bool:
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _read_all(self) -> None:
        generation = 0
        try:
            while not self._stopping.is_set():
                with self._lock:
                    generation, target, self._seek_to = self._generation, self._seek_to, None
                if target is not None:
                    self.source.seek(target)
                frame = self.source.read()
                self._put(generation, frame)
                if frame is None:
                    self._wait_for_seek()
        except Exception as exc:
            self._put(generation, exc)
        finally:
            self.source.close()

    def _put(self, generation: int, item: Frame | BaseException | None) -> None:
        while not self._stopping.is_set() and generation == self._generation:
            try:
                self._queue.put((generation, item), timeout=POLL_S)
                return
            except queue.Full:
                continue

    def _wait_for_seek(self) -> None:
        """At the end, stay for a seek back (the loop may ask for one) until stopped."""
        while not self._stopping.wait(POLL_S):
            with self._lock:
                if self._seek_to is not None:
                    return


class RealtimeFeed(FrameFeed):
    """A file played at its own frame rate; frames whose time has passed are skipped.

    A frame is skipped once more than `late_frames` later frames are due: with detection on
    every k-th frame, the frame after a detection may come up to k - 1 periods late and the
    cheap frames after it catch the clock up, so none needs skipping.
    """

    def __init__(self, source: VideoSource, fps: float, late_frames: int = 0) -> None:
        super().__init__(source)
        self.fps = fps
        self.late_frames = late_frames
        self._skipped = 0
        self._next_index = 0
        self._clock_index = 0  # the frame that was due at `_clock_start`
        self._clock_start = time.monotonic()
        self._paused_at: float | None = None

    @property
    def dropped(self) -> int:
        return self._skipped

    def start(self) -> None:
        self._clock_start = time.monotonic()

    def next(self, timeout: float) -> Frame | None:
        wait = self._due(self._next_index) - time.monotonic()
        if wait > 0 and (self._stopping.wait(min(wait, timeout)) or wait > timeout):
            return None
        behind = max(0, self._index_now() - self._next_index - self.late_frames)
        if behind > 0:
            if not self.source.skip(behind):
                self.ended = True
                return None
            self._skipped += behind
        frame = self.source.read()
        if frame is None:
            self.ended = True
            return None
        if frame.index < self._next_index + behind:
            self._restart_clock(frame.index)  # a looping source started again
        self._next_index = frame.index + 1
        return frame

    def pause(self) -> None:
        self._paused_at = time.monotonic()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._clock_start += time.monotonic() - self._paused_at
            self._paused_at = None

    def seek(self, index: int) -> None:
        self.source.seek(index)
        self._next_index = index
        self._restart_clock(index)

    def _restart_clock(self, index: int) -> None:
        """Make frame `index` due now: the pace goes on from it."""
        self._clock_index = index
        self._clock_start = time.monotonic()

    def _due(self, index: int) -> float:
        return self._clock_start + (index - self._clock_index) / self.fps

    def _index_now(self) -> int:
        return self._clock_index + int((time.monotonic() - self._clock_start) * self.fps)


class LiveFeed(FrameFeed):
    """A live source captured on its own thread; the loop always gets the newest frame."""

    def __init__(self, source: VideoSource) -> None:
        super().__init__(source)
        self.capture = LatestFrameCapture(source)

    @property
    def dropped(self) -> int:
        return self.capture.dropped

    def start(self) -> None:
        self.capture.start()

    def next(self, timeout: float) -> Frame | None:
        frame = self.capture.take(timeout)
        if frame is None and self.capture.ended and not self._stopping.is_set():
            self.ended = True
            if self.capture.error is not None:
                raise self.capture.error
        return frame

    def pause(self) -> None:
        self.capture.pause()

    def resume(self) -> None:
        self.capture.resume()

    def stop(self) -> None:
        self._stopping.set()
        self.capture.stop()

    def close(self) -> None:
        """The capture thread closes the source itself when it ends."""

    def join(self, timeout: float | None = None) -> bool:
        return self.capture.join(timeout)


def feed_for(source: VideoSource, every_frame: bool, late_frames: int = 0) -> FrameFeed:
    """Live sources: the newest frame; others: every frame, or real-time if their fps is known
    (`late_frames`: see `RealtimeFeed`)."""
    info = source.info
    if info.live:
        return LiveFeed(source)
    if every_frame:
        return ReadAheadFeed(source)
    if not info.fps:
        logger.warning("%s does not say its frame rate; playing every frame", info.name)
        return ReadAheadFeed(source)
    return RealtimeFeed(source, info.fps, late_frames)
