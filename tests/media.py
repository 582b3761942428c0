"""Real media the tests make: video files written with OpenCV, an HTTP MJPEG camera, captures
of a stream through the real frame loop; and the waiting and killing that tests of live things
need.

The camera is not a fake: it speaks the multipart/x-mixed-replace protocol IP cameras use, over
a real socket on 127.0.0.1, and FFmpeg reads it as it reads a camera. The test can cut, stall
and restore it. `/page` serves HTML (not a video).
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.session.capture import CaptureBuffer
from tvdesk.core.session.frame_loop import FrameLoop
from tvdesk.core.sources import ReconnectPolicy, VideoSource

BOUNDARY = b"frame"
FAST_POLICY = ReconnectPolicy(
    open_timeout_s=1.0, read_timeout_s=1.0, first_delay_s=0.2, max_delay_s=0.5
)


def capture_stream(
    source: VideoSource, model: Path, root: Path, frames: int, threads: int | None = None
) -> CaptureBuffer:
    """Run `source` through the real frame loop with `model` into a capture buffer at `root`,
    for `frames` frames (or until the source ends); the buffer comes back flushed and closed."""
    detector = OnnxDetector(model) if threads is None else OnnxDetector(model, threads=threads)
    buffer = CaptureBuffer(root)
    loop = FrameLoop(source, DetectorSlot(detector), consumers=[buffer], every_frame=True)
    loop.start()
    while loop.running and loop.frames < frames:
        time.sleep(0.05)
    loop.stop(5.0)
    buffer.flush()
    buffer.close()
    return buffer


def write_video(
    path: Path, frames: int = 40, fps: float = 20.0, size: tuple[int, int] = (160, 120)
) -> Path:
    """A real MJPG file whose frame i is uniformly grey at level 5 * i (mod 250)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 5 * i % 250, np.uint8))
    writer.release()
    return path


def write_synthetic_clip(
    path: Path, seconds: float, fps: float = 10.0, size: tuple[int, int] = (320, 180)
) -> Path:
    """`seconds` of the synthetic world by day as an ordinary MJPG video file: to tvdesk, a
    real camera (it has traffic to detect, count and learn as normal)."""
    from tvdesk.core.sources import SyntheticSource

    source = SyntheticSource("day", fps=fps, paced=False, size=size)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for _ in range(int(seconds * fps)):
        writer.write(source.read().image)
    writer.release()
    source.close()
    return path


def wait_for_rows(
    process: subprocess.Popen, db_path: Path, table: str, rows: int, timeout: float = 60.0
) -> int:
    """Wait until `table` in `process`'s database holds `rows` rows (or `timeout` s pass, or
    the process exits); the rows seen."""
    from tvdesk.core.store import Store

    seen, deadline = 0, time.monotonic() + timeout
    while seen < rows and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        if db_path.exists():
            with Store(db_path) as store:
                seen = store.db[table].count
    return seen


def kill_9_after_rows(
    process: subprocess.Popen, db_path: Path, table: str, rows: int, timeout: float = 60.0
) -> int:
    """SIGKILL `process` once `table` in its database holds `rows` rows (or after `timeout`
    s, or if it exits first); returns the rows that were committed before the kill."""
    try:
        return wait_for_rows(process, db_path, table, rows, timeout)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` s pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def numbered_jpeg(number: int, size: tuple[int, int] = (320, 240)) -> bytes:
    image = np.full((size[1], size[0], 3), 40, np.uint8)
    cv2.putText(
        image, str(number), (20, size[1] // 2), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3
    )
    return cv2.imencode(".jpg", image)[1].tobytes()


class MjpegCamera:
    """Serves numbered frames at `fps` until `cut()`; `restore()` serves again on the same port."""

    def __init__(self, fps: float = 25.0) -> None:
        self.fps = fps
        self.port = 0
        self.stalled = threading.Event()
        self._live = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._frames = [numbered_jpeg(n) for n in range(10)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream"

    @property
    def page_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/page"

    def start(self) -> MjpegCamera:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._live.set()
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="test-mjpeg-camera"
        ).start()
        return self

    def cut(self) -> None:
        """Close the listening socket and every open stream: the camera is gone."""
        self._live.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def restore(self) -> None:
        self.start()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/page":
                    body = b"<html><body>" + b"not a video " * 200 + b"</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header(
                    "Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}"
                )
                self.end_headers()
                camera._stream(self.wfile)

        return Handler

    def _stream(self, out) -> None:
        number = 0
        try:
            while self._live.is_set():
                if self.stalled.is_set():
                    time.sleep(0.02)
                    continue
                jpeg = self._frames[number % len(self._frames)]
                out.write(
                    b"--"
                    + BOUNDARY
                    + b"\r\nContent-Type: image/jpeg\r\n"
                    + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                number += 1
                time.sleep(1.0 / self.fps)
        except OSError:
            pass  # the client went away: that is how a stream ends
