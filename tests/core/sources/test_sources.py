"""Video sources on real inputs: files written by the test, the real clips, a real MJPEG server,
the synthetic camera; and every kind of bad input as one clear SourceError."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from media import FAST_POLICY, MjpegCamera, wait_for, write_video

from tvdesk.core.sources import (
    FileSource,
    PlaylistSource,
    SourceError,
    SourceEvent,
    StreamSource,
    SyntheticSource,
    mask_url,
    open_source,
)


def level(image: np.ndarray) -> int:
    return round(float(image.mean()) / 5)


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_video(tmp_path / "clip.avi")


@pytest.fixture
def camera():
    camera = MjpegCamera().start()
    yield camera
    camera.cut()


def read_all(source, limit: int = 10_000) -> list:
    frames = []
    while len(frames) < limit and (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def test_file_frames_come_in_order_with_index_time_and_info(clip):
    with FileSource(clip) as source:
        info = source.info
        frames = read_all(source)
    assert (info.kind, info.fps, info.size, info.frame_count) == ("file", 20.0, (160, 120), 40)
    assert not info.live and info.seekable
    assert [f.index for f in frames] == list(range(40))
    assert [level(f.image) for f in frames] == list(range(40))
    assert frames[10].timestamp == pytest.approx(0.5)
    assert not frames[0].image.flags.writeable
    assert all(f.capture_ms >= 0 for f in frames)


def test_playlist_plays_the_files_in_order_as_one_stream(tmp_path):
    first = write_video(tmp_path / "day.avi", frames=10)
    second = write_video(tmp_path / "night.avi", frames=6)
    with PlaylistSource([first, second]) as source:
        frames = read_all(source)
    assert [f.index for f in frames] == list(range(16))
    assert [level(f.image) for f in frames] == list(range(10)) + list(range(6))
    assert frames[10].timestamp == pytest.approx(0.5)  # 10 frames at 20 fps before it


def test_playlist_can_play_its_last_file_again_and_again(tmp_path):
    first = write_video(tmp_path / "day.avi", frames=4)
    second = write_video(tmp_path / "night.avi", frames=3)
    with PlaylistSource([first, second], repeat_last=True) as source:
        frames = read_all(source, limit=13)
    assert [level(f.image) for f in frames] == [0, 1, 2, 3] + [0, 1, 2] * 3
    assert [f.index for f in frames] == list(range(13))
    assert np.all(np.diff([f.timestamp for f in frames]) > 0)


def test_file_seek_skip_and_loop(clip):
    with FileSource(clip, loop=True) as source:
        source.seek(25)
        first = source.read()
        assert (first.index, level(first.image)) == (25, 25)
        assert source.skip(3)
        assert source.read().index == 29
        rest = [f.index for f in read_all(source, limit=13)]
    assert rest == [*range(30, 40), 0, 1, 2]


def test_file_that_reports_more_frames_than_it_holds_ends_with_a_note(realdata):
    events: list[SourceEvent] = []
    with FileSource(realdata / "videos" / "cctv_highway_day_bgs_video02.avi") as source:
        source.subscribe(events.append)
        assert source.info.frame_count == 750
        frames = read_all(source)
        assert source.info.frame_count == len(frames) == 748
    assert [e.kind for e in events] == ["short"]
    assert "750" in events[0].message and "748" in events[0].message


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "overhead_day_intel_car-detection.mp4",
        "dashcam_city_day_tmo_seattle1.mp4",
        "dashcam_night_tmo.mp4",
    ],
)
def test_real_clips_give_every_decodable_frame(realdata, name):
    path = realdata / "videos" / name
    cap = cv2.VideoCapture(str(path))
    decodable = 0
    while cap.read()[0]:
        decodable += 1
    with FileSource(path) as source:
        assert len(read_all(source)) == decodable


def test_truncated_file_plays_what_decodes(realdata, tmp_path):
    original = (realdata / "videos" / "overhead_day_intel_car-detection.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(original[: len(original) // 3])  # index first: the start still decodes
    events: list[SourceEvent] = []
    with FileSource(cut) as source:
        source.subscribe(events.append)
        frames = read_all(source)
    assert 0 < len(frames) < 377
    assert [e.kind for e in events] == ["short"]


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: d / "missing.mp4", "not found"),
        (lambda d: d, "is a folder"),
        (
            lambda d: (d / "notes.mp4").write_text("not a video\n" * 100) and d / "notes.mp4",
            "does not recognise it as a video",
        ),
    ],
)
def test_bad_files_are_one_clear_error(tmp_path, make, expected):
    with pytest.raises(SourceError, match=expected):
        FileSource(make(tmp_path))


def test_truncated_file_without_its_index_is_a_clear_error(realdata, tmp_path):
    original = (realdata / "videos" / "dashcam_night_tmo.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(original[: len(original) // 2])  # its index (moov) is at the end
    with pytest.raises(SourceError, match=r"cut\.mp4"):
        FileSource(cut)


def test_missing_webcam_is_a_clear_error():
    started = time.monotonic()
    with pytest.raises(SourceError, match="no webcam at index 99"):
        open_source("99")
    assert time.monotonic() - started < 5


def test_stream_reads_live_frames_and_masks_its_credentials(camera, caplog):
    caplog.set_level(logging.DEBUG)
    url = camera.url.replace("http://", "http://operator:s3cret@") + "?token=abc123"
    with StreamSource(url, FAST_POLICY) as source:
        info = source.info
        frames = read_all(source, limit=5)
        source.interrupt()
        assert source.read() is None
    assert info.kind == "stream" and info.live and info.size == (320, 240)
    assert "s3cret" not in info.name and "abc123" not in info.name
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert "s3cret" not in caplog.text and "abc123" not in caplog.text


def test_unreachable_url_is_a_clear_error(camera):
    port = camera.port
    camera.cut()
    started = time.monotonic()
    with pytest.raises(SourceError, match=f"cannot reach 127.0.0.1:{port}.*refused"):
        StreamSource(f"rtsp://admin:hunter2@127.0.0.1:{port}/live", FAST_POLICY)
    assert time.monotonic() - started < 5


def test_udp_stream_with_no_sender_is_a_clear_error():
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"no video arrived from udp://127\.0\.0\.1"):
        open_source("udp://127.0.0.1:45678", policy=FAST_POLICY)
    assert time.monotonic() - started < 5


def test_url_that_is_not_a_video_is_a_clear_error(camera):
    with pytest.raises(SourceError, match=r"answers but .* is not a video stream"):
        StreamSource(camera.page_url, FAST_POLICY)


def _reader(source, frames: list, stop: threading.Event) -> threading.Thread:
    def run():
        while not stop.is_set() and (frame := source.read()) is not None:
            frames.append(frame)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("outage", ["cut", "stall"])
def test_stream_reconnects_after_it_drops_or_stalls(camera, outage):
    events: list[SourceEvent] = []
    frames: list = []
    stop = threading.Event()
    source = StreamSource(camera.url, FAST_POLICY)
    source.subscribe(events.append)
    reader = _reader(source, frames, stop)
    try:
        assert wait_for(lambda: len(frames) >= 5, 5)
        if outage == "cut":
            camera.cut()
        else:
            camera.stalled.set()
        assert wait_for(lambda: any(e.kind == "disconnected" for e in events), 5)
        if outage == "cut":
            assert wait_for(lambda: any(e.kind == "reconnecting" for e in events), 5)
            camera.restore()
        else:
            camera.stalled.clear()
        assert wait_for(lambda: any(e.kind == "reconnected" for e in events), 5)
        count = len(frames)
        assert wait_for(lambda: len(frames) >= count + 5, 5)
    finally:
        stop.set()
        source.interrupt()
        reader.join(3)
    assert not reader.is_alive()
    assert source.reconnects == 1


def test_synthetic_frames_carry_their_ground_truth():
    source = open_source("synthetic:day", paced=False)
    assert source.info.kind == "synthetic" and not source.info.live
    frames = read_all(source, limit=3)
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[1].timestamp == pytest.approx(0.1)
    assert all(f.truth is not None and f.conditions is not None for f in frames)
    assert sum(len(f.truth) for f in frames) > 0


def test_paced_synthetic_camera_keeps_its_frame_rate_and_stops_at_once():
    source = SyntheticSource("day", fps=20.0, size=(160, 90))
    assert source.info.live
    started = time.monotonic()
    read_all(source, limit=11)
    assert 0.45 < time.monotonic() - started < 1.5
    slow = SyntheticSource("day", fps=0.2, size=(160, 90))
    slow.read()
    threading.Timer(0.1, slow.interrupt).start()
    started = time.monotonic()
    assert slow.read() is None
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    "url, shown",
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
        ("rtsp://admin@10.0.0.5/s", "rtsp://admin@10.0.0.5/s"),
        (
            "http://cam.local/video.cgi?user=bob&pwd=xyz&res=hd",
            "http://cam.local/video.cgi?user=bob&pwd=***&res=hd",
        ),
        ("http://u:p%40ss@cam/x?token=abc", "http://u:***@cam/x?token=***"),
        ("udp://239.0.0.1:1234", "udp://239.0.0.1:1234"),
    ],
)
def test_mask_url(url, shown):
    assert mask_url(url) == shown
