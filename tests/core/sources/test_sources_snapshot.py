"""Snapshot cameras against a real HTTP server on 127.0.0.1 that serves a JPEG which changes
between polls (or not), asks for basic auth, fails, stalls, goes away and comes back; and the
source played through the real frame loop with the bundled model."""

from __future__ import annotations

import base64
import http.server
import logging
import threading
import time

import cv2
import numpy as np
import pytest
from media import FAST_POLICY, numbered_jpeg, wait_for

from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.session.frame_loop import FrameLoop, FrameResult
from tvdesk.core.sources import (
    LatestFrameCapture,
    SnapshotSource,
    SourceError,
    SourceEvent,
    is_snapshot_url,
    open_source,
)

INTERVAL = 0.1  # seconds between polls: short, so that the tests are fast
PASSWORD = "p@ss:w0rd"  # needs percent-encoding in a URL
QUOTED_PASSWORD = "p%40ss%3Aw0rd"
STALL_LIMIT_S = 5.0  # a stalled answer gives up after this, so the server can shut down
OFFLINE_PAGE = b"<html><body>" + b"camera offline " * 50 + b"</body></html>"


class SnapshotCamera:
    """Serves a numbered JPEG at /cam.jpg (and /snapshot.cgi) over real HTTP on 127.0.0.1.

    Each request gets the next number unless `frozen`. `etag` sends ETags and honours
    If-None-Match (304); `credentials` asks for basic auth; `status` answers that error
    instead; `page` is sent (as HTML) instead of the image; `stalled` holds the answer.
    `cut()` closes the listening socket, `restore()` serves again on the same port.
    """

    def __init__(self, etag: bool = True) -> None:
        self.etag = etag
        self.number = 0
        self.frozen = False
        self.credentials: tuple[str, str] | None = None
        self.status = 200
        self.page: bytes | None = None
        self.stalled = threading.Event()
        self.requests: list[dict[str, str]] = []
        self.not_modified = 0
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None

    def url(self, path: str = "/cam.jpg", userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}{path}"

    def start(self) -> SnapshotCamera:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="test-snapshot"
        ).start()
        return self

    def cut(self) -> None:
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
                camera.requests.append({"path": self.path, **self.headers})
                deadline = time.monotonic() + STALL_LIMIT_S
                while camera.stalled.is_set() and time.monotonic() < deadline:
                    time.sleep(0.02)  # hold the answer until released (or given up)
                camera._answer(self)

        return Handler

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        if self.credentials and handler.headers.get("Authorization") != _basic(*self.credentials):
            handler.send_response(401)
            handler.send_header("WWW-Authenticate", 'Basic realm="camera"')
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if self.status != 200:
            handler.send_error(self.status)
            return
        if self.page is not None:
            self._send(handler, self.page, "")
            return
        number = self.number
        if not self.frozen:
            self.number += 1
        tag = f'"{number}"'
        if self.etag and handler.headers.get("If-None-Match") == tag:
            self.not_modified += 1
            handler.send_response(304)
            handler.end_headers()
            return
        self._send(handler, numbered_jpeg(number), tag if self.etag else "", "image/jpeg")

    @staticmethod
    def _send(handler, body: bytes, tag: str, kind: str = "text/html") -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        if tag:
            handler.send_header("ETag", tag)
        handler.end_headers()
        handler.wfile.write(body)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def picture(number: int) -> np.ndarray:
    """What the camera's image `number` decodes to."""
    return cv2.imdecode(np.frombuffer(numbered_jpeg(number), np.uint8), cv2.IMREAD_COLOR)


def start_reader(source: SnapshotSource, frames: list) -> threading.Thread:
    """Read `source` on a thread of its own, as the capture does, into `frames`."""

    def run() -> None:
        while (frame := source.read()) is not None:
            frames.append(frame)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def camera():
    camera = SnapshotCamera().start()
    yield camera
    camera.stalled.clear()
    camera.cut()


def snapshot(url: str) -> SnapshotSource:
    return SnapshotSource(url, INTERVAL, FAST_POLICY)


def test_each_poll_with_a_new_image_is_a_new_frame(camera):
    with snapshot(camera.url()) as source:
        info = source.info
        started = time.monotonic()
        frames = [source.read() for _ in range(5)]
        took = time.monotonic() - started
    assert (info.kind, info.live, info.seekable) == ("snapshot", True, False)
    assert info.size == (320, 240) and info.fps == pytest.approx(1 / INTERVAL)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    for number, frame in enumerate(frames):
        assert np.array_equal(frame.image, picture(number))
    assert 3 * INTERVAL < took < 10 * INTERVAL  # polled at the interval, not as fast as it can
    assert np.all(np.diff([f.timestamp for f in frames]) > 0)
    assert all(0 < f.capture_ms < 1000 * INTERVAL for f in frames)  # the request, not the wait


@pytest.mark.parametrize("etag", [True, False], ids=["etag", "same-bytes"])
def test_an_unchanged_image_is_not_a_new_frame(etag):
    camera = SnapshotCamera(etag=etag).start()
    camera.frozen = True
    try:
        with snapshot(camera.url()) as source:
            first = source.read()
            threading.Timer(6 * INTERVAL, setattr, (camera, "frozen", False)).start()
            started = time.monotonic()
            second = source.read()  # waits through the unchanged polls
            waited = time.monotonic() - started
    finally:
        camera.cut()
    assert len(camera.requests) >= 5
    if etag:
        assert camera.not_modified >= 3  # asked with If-None-Match, answered 304
    else:
        assert camera.not_modified == 0  # the same bytes again, recognised as such
    assert waited > 5 * INTERVAL
    assert (first.index, second.index) == (0, 1)
    assert np.array_equal(first.image, picture(0))
    assert not np.array_equal(second.image, first.image)


def test_frames_come_back_after_the_camera_goes_away_without_the_reader_dying(camera):
    events: list[SourceEvent] = []
    source = snapshot(camera.url())
    source.subscribe(events.append)
    capture = LatestFrameCapture(source)
    capture.start()
    try:
        assert capture.take(2.0) is not None
        camera.cut()
        assert wait_for(lambda: any(e.kind == "reconnecting" for e in events), 5)
        assert not capture.join(0)  # the capture thread lives on
        capture.take(0)  # forget any frame from before the cut
        camera.restore()
        assert wait_for(lambda: any(e.kind == "reconnected" for e in events), 5)
        after = capture.take(2.0)
    finally:
        capture.stop()
        assert capture.join(3)
    assert capture.error is None and after is not None
    kinds = [e.kind for e in events]
    assert kinds[0] == "disconnected" and "refused" in events[0].message
    assert kinds[-1] == "reconnected" and "reconnecting" in kinds
    assert source.reconnects == 1


@pytest.mark.parametrize(
    "trouble, said",
    [
        ("status", "500 Internal Server Error"),
        ("html", "not an image (text/html"),
        ("stall", "no answer from 127.0.0.1"),
    ],
)
def test_a_failing_poll_is_an_event_that_says_why_then_frames_resume(camera, trouble, said):
    events: list[SourceEvent] = []
    frames: list = []
    source = snapshot(camera.url())
    source.subscribe(events.append)
    reader = start_reader(source, frames)
    try:
        assert wait_for(lambda: len(frames) >= 2, 3)
        if trouble == "status":
            camera.status = 500
        elif trouble == "html":
            camera.page = OFFLINE_PAGE
        else:
            camera.stalled.set()
        assert wait_for(lambda: any(e.kind == "disconnected" for e in events), 5)
        camera.status, camera.page = 200, None
        camera.stalled.clear()
        assert wait_for(lambda: any(e.kind == "reconnected" for e in events), 5)
        count = len(frames)
        assert wait_for(lambda: len(frames) >= count + 2, 3)
    finally:
        source.interrupt()
        reader.join(3)
    assert not reader.is_alive()
    dropped = next(e for e in events if e.kind == "disconnected")
    assert said in dropped.message and "reconnecting" in dropped.message


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(camera, caplog):
    caplog.set_level(logging.DEBUG)
    camera.credentials = ("operator", PASSWORD)
    events: list[SourceEvent] = []
    url = camera.url(userinfo=f"operator:{QUOTED_PASSWORD}@") + "?token=abc123"
    frames: list = []
    source = snapshot(url)
    source.subscribe(events.append)
    name = source.info.name
    reader = start_reader(source, frames)
    try:
        assert wait_for(lambda: len(frames) >= 2, 3)
        camera.credentials = ("operator", "changed")  # the camera's password changes
        assert wait_for(lambda: any(e.kind == "reconnecting" for e in events), 3)
    finally:
        source.interrupt()
        reader.join(3)
    assert camera.requests[0]["Authorization"] == _basic("operator", PASSWORD)
    assert name == f"http://operator:***@127.0.0.1:{camera.port}/cam.jpg?token=***"
    assert "401 Unauthorized: the camera refused the user name and password" in events[0].message
    shown = [name, caplog.text, *(e.message for e in events)]
    for secret in (PASSWORD, QUOTED_PASSWORD, "abc123", _basic("operator", PASSWORD)[6:]):
        assert not any(secret in text for text in shown)


@pytest.mark.parametrize(
    "userinfo, expected",
    [
        ("", r"401 Unauthorized: the camera needs a user name and password; put them in"),
        ("operator:wrong@", r"401 Unauthorized: the camera refused the user name and password"),
    ],
)
def test_a_camera_that_wants_a_password_is_a_clear_error(camera, userinfo, expected):
    camera.credentials = ("operator", PASSWORD)
    with pytest.raises(SourceError, match=expected) as error:
        snapshot(camera.url(userinfo=userinfo))
    assert "wrong" not in str(error.value)


@pytest.mark.parametrize(
    "setup, expected",
    [
        (
            lambda c: setattr(c, "page", OFFLINE_PAGE),
            rf"not an image \(text/html, {len(OFFLINE_PAGE)} bytes\)",
        ),
        (lambda c: setattr(c, "page", b""), r"not an image \(text/html, 0 bytes\); check"),
        (lambda c: setattr(c, "status", 404), r"404 Not Found: nothing at this address"),
        (lambda c: c.stalled.set(), r"no answer from 127\.0\.0\.1:\d+ within 1 s"),
        (lambda c: c.cut(), r"cannot reach 127\.0\.0\.1:\d+ \(.*refused.*\); check the address"),
    ],
    ids=["html", "empty", "404", "timeout", "refused"],
)
def test_a_camera_that_gives_no_image_at_first_is_a_clear_error(camera, setup, expected):
    setup(camera)
    started = time.monotonic()
    with pytest.raises(SourceError, match=f"^no snapshot from http://127.0.0.1:.*{expected}"):
        snapshot(camera.url())
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "spec, snapshot_url",
    [
        ("http://cam.example/live/cam1.jpg", True),
        ("HTTPS://CAM.EXAMPLE/SNAP.JPEG?t=1", True),
        ("http://cam.example/still.png", True),
        ("snapshot+http://cam.example/cgi-bin/snapshot.cgi", True),
        ("snapshot+https://u:p@cam.example/image", True),
        ("http://cam.example/video.mjpg", False),
        ("http://cam.example/video.cgi?format=.jpg", False),  # the query does not count
        ("rtsp://cam.example/cam1.jpg", False),
        ("snapshot+rtsp://cam.example/x", False),
        ("/home/me/cam1.jpg", False),
    ],
)
def test_which_urls_are_snapshots(spec, snapshot_url):
    assert is_snapshot_url(spec) is snapshot_url


def test_open_source_tells_snapshots_from_streams(camera):
    by_suffix = open_source(camera.url(), interval=INTERVAL, policy=FAST_POLICY)
    by_prefix = open_source(
        "snapshot+" + camera.url("/snapshot.cgi"), interval=0.5, policy=FAST_POLICY
    )
    for source in (by_suffix, by_prefix):
        source.close()
    assert isinstance(by_suffix, SnapshotSource) and by_suffix.interval == INTERVAL
    assert isinstance(by_prefix, SnapshotSource) and by_prefix.info.fps == pytest.approx(2.0)
    assert camera.requests[-1]["path"] == "/snapshot.cgi"  # requested as plain http
    with pytest.raises(SourceError, match=r"needs an http:// or https:// address") as error:
        open_source("snapshot+rtsp://admin:hunter2@10.0.0.5/x")
    assert "hunter2" not in str(error.value)
    camera.page = OFFLINE_PAGE  # a snapshot would be "not an image": this is read as a stream
    with pytest.raises(SourceError, match=r"/snapshot\.cgi .*not a video stream"):
        open_source(camera.url("/snapshot.cgi"), policy=FAST_POLICY)


def test_snapshots_play_through_the_frame_loop_with_the_bundled_model(camera, bundled_model):
    results: list[FrameResult] = []
    source = snapshot(camera.url())
    loop = FrameLoop(source, DetectorSlot(OnnxDetector(bundled_model)), consumers=[results.append])
    loop.start()
    assert wait_for(lambda: len(results) >= 3, 10)
    assert loop.stop(3.0)
    outcome = loop.wait(1.0)
    assert outcome.reason == "stopped" and outcome.error is None
    indices = [r.frame.index for r in results]
    assert indices == sorted(set(indices)) and len(indices) >= 3
    assert all(r.frame.image.shape == (240, 320, 3) for r in results)
    assert all(r.stats.inference_ms > 0 and r.model_version for r in results)
