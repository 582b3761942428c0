"""Latest-frame-wins capture: a live source read on its own thread, only the newest frame kept.

A reader slower than the camera gets the freshest frame each time and the ones it missed are
counted as dropped, so latency stays one frame deep instead of growing with a queue.
"""

from __future__ import annotations

import logging
import threading

from tvdesk.core.sources.base import Frame, VideoSource

logger = logging.getLogger(__name__)


class LatestFrameCapture:
    """Owns a live source while running: reads it, keeps the newest frame, closes it at the end.

    `take` hands out each frame at most once. While paused, frames are read and discarded
    (not counted as dropped), so resuming shows the present, not the moment of the pause.
    """

    def __init__(self, source: VideoSource) -> None:
        self.source = source
        self.dropped = 0
        self.error: BaseException | None = None
        self._latest: Frame | None = None
        self._paused = False
        self._ended = False
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"tvdesk-capture {source.info.name}"
        )

    def start(self) -> None:
        self._thread.start()

    def take(self, timeout: float) -> Frame | None:
        """The newest frame not yet taken, waiting up to `timeout` s; None if there is none."""
        with self._cond:
            self._cond.wait_for(lambda: self._latest is not None or self._ended, timeout)
            frame, self._latest = self._latest, None
            return frame

    @property
    def ended(self) -> bool:
        """The source has ended (or failed, see `error`) and every frame has been taken."""
        with self._cond:
            return self._ended and self._latest is None

    def pause(self) -> None:
        with self._cond:
            self._paused, self._latest = True, None

    def resume(self) -> None:
        with self._cond:
            self._paused = False

    def stop(self) -> None:
        """Ask the capture thread to end; it closes the source itself. Returns at once."""
        self._stopping.set()
        self.source.interrupt()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the capture thread; True once it has ended (or if it never started)."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                self._offer(frame)
        except Exception as exc:
            logger.debug("capture of %s failed: %r", self.source.info.name, exc)
            self.error = exc  # the reader raises it
        finally:
            self.source.close()
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def _offer(self, frame: Frame) -> None:
        with self._cond:
            if self._paused:
                return
            if self._latest is not None:
                self.dropped += 1
            self._latest = frame
            self._cond.notify_all()
