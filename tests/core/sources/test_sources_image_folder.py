"""Image folders on real image files written by the test (and the real DAWN fog images): order,
pacing, loop, seek, mixed sizes, damaged files, bad folders; and a folder of mixed sizes
played through the real frame loop with the bundled model into the capture ring, the drift
monitor and an annotated video."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from media import write_video

from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.drift import DriftMonitor
from tvdesk.core.session.annotate import AnnotatedVideoWriter
from tvdesk.core.session.capture import CaptureBuffer, load_frame, stored_indices
from tvdesk.core.session.feeds import feed_for
from tvdesk.core.session.frame_loop import FrameLoop, FrameResult
from tvdesk.core.sources import (
    FileSource,
    ImageFolderSource,
    SourceError,
    SourceEvent,
    VideoSource,
    open_source,
)

SIZE = (64, 48)


def write_image(path: Path, level: int, size: tuple[int, int] = SIZE) -> Path:
    """A real image file, uniformly grey at `level` (lossless formats keep it exact)."""
    assert cv2.imwrite(str(path), np.full((size[1], size[0], 3), level, np.uint8))
    return path


def level(frame) -> int:
    return round(float(frame.image.mean()) / 10)


@pytest.fixture
def folder(tmp_path) -> Path:
    """Six images named so that plain sorting gets them wrong, of mixed formats, plus
    things that are not images of this folder."""
    for number, name in enumerate(
        ["img1.png", "img2.bmp", "IMG3.PNG", "img10.png", "img11.jpeg", "img20.jpg"]
    ):
        write_image(tmp_path / name, 10 * number)
    (tmp_path / "notes.txt").write_text("not an image\n")
    write_image(tmp_path / ".hidden.png", 250)
    (tmp_path / "sub").mkdir()
    write_image(tmp_path / "sub" / "img0.png", 250)
    return tmp_path


def read_all(source: VideoSource, limit: int = 1000) -> list:
    frames = []
    while len(frames) < limit and (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def play(source: VideoSource, every_frame: bool, limit: int = 1000) -> list:
    """Frames as the frame loop's feed hands them out (real-time or every frame)."""
    feed = feed_for(source, every_frame)
    feed.start()
    frames = []
    try:
        while not feed.ended and len(frames) < limit:
            if (frame := feed.next(0.05)) is not None:
                frames.append(frame)
    finally:
        feed.stop()
        feed.join(2)
        feed.close()
    return frames


def test_images_play_in_natural_name_order_with_index_time_and_info(folder):
    with ImageFolderSource(folder, fps=4.0) as source:
        info = source.info
        frames = read_all(source)
    assert (info.kind, info.name, info.fps, info.size) == ("images", str(folder), 4.0, SIZE)
    assert info.frame_count == 6 and info.seekable and not info.live
    assert [f.index for f in frames] == list(range(6))
    assert [level(f) for f in frames] == list(range(6))
    assert [f.timestamp for f in frames] == [i / 4.0 for i in range(6)]
    assert not frames[0].image.flags.writeable and frames[0].image.dtype == np.uint8


def test_a_folder_plays_at_its_rate_or_every_frame(folder):
    started = time.monotonic()
    paced = play(ImageFolderSource(folder, fps=10.0), every_frame=False)
    took = time.monotonic() - started
    assert [f.index for f in paced] == list(range(6))
    assert 0.4 < took < 1.2  # six images at 10 per second
    started = time.monotonic()
    every = play(ImageFolderSource(folder, fps=1.0), every_frame=True)
    assert [f.index for f in every] == list(range(6))
    assert time.monotonic() - started < 1.0  # one per second, but not paced


def test_a_looping_folder_starts_again_and_skips_without_decoding(folder):
    with ImageFolderSource(folder, loop=True) as source:
        first = [f.index for f in read_all(source, limit=14)]
        assert source.skip(5)  # 2, 3, 4, 5 and 0
        after_skip = source.read().index
        assert source.skip(6 * 1000 + 1)  # whole passes cost nothing
        far = source.read().index
    assert first == [0, 1, 2, 3, 4, 5] * 2 + [0, 1]
    assert (after_skip, far) == (1, 3)


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_looping_source_keeps_real_time_pace_when_it_starts_again(folder, tmp_path, kind):
    """The real-time feed follows a source that starts again (it used to race through it)."""
    if kind == "folder":
        source = ImageFolderSource(folder, fps=20.0, loop=True)
    else:
        source = FileSource(write_video(tmp_path / "clip.avi", frames=6), loop=True)
    started = time.monotonic()
    frames = play(source, every_frame=False, limit=15)
    took = time.monotonic() - started
    assert [f.index % 6 for f in frames] == [0, 1, 2, 3, 4, 5] * 2 + [0, 1, 2]
    assert 0.55 < took < 1.5  # 15 frames at 20 per second


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_skipping_past_the_end_of_a_looping_source_starts_again(folder, tmp_path, kind):
    if kind == "folder":
        source = ImageFolderSource(folder, loop=True)
    else:
        source = FileSource(write_video(tmp_path / "clip.avi", frames=6), loop=True)
    with source:
        source.seek(4)
        assert source.skip(4)  # 4, 5, 0 and 1
        assert source.read().index == 2


def test_seek_skip_and_the_end(folder):
    with ImageFolderSource(folder) as source:
        assert source.skip(2)
        assert source.read().index == 2
        source.seek(4)
        assert [f.index for f in read_all(source)] == [4, 5]
        source.seek(99)  # past the end: the last image
        assert source.read().index == 5
        source.seek(-3)
        assert source.read().index == 0
        assert not source.skip(6)  # only 5 are left
        assert source.read() is None


def test_images_of_different_sizes_keep_their_own_size(tmp_path):
    write_image(tmp_path / "a.jpg", 50, (1280, 675))
    write_image(tmp_path / "b.jpg", 100, (1280, 909))
    write_image(tmp_path / "c.png", 150, (320, 240))
    with ImageFolderSource(tmp_path) as source:
        size = source.info.size
        shapes = [f.image.shape for f in read_all(source)]
    assert size == (1280, 675)  # the first image's
    assert shapes == [(675, 1280, 3), (909, 1280, 3), (240, 320, 3)]


def test_an_unreadable_image_is_skipped_once_and_counted(folder, caplog):
    caplog.set_level(logging.INFO)
    (folder / "img2.bmp").write_text("this is not a bitmap\n")
    (folder / "img10.png").write_bytes(b"")
    events: list[SourceEvent] = []
    with ImageFolderSource(folder, loop=True) as source:
        source.subscribe(events.append)
        frames = read_all(source, limit=8)  # two passes
    assert [f.index for f in frames] == [0, 2, 4, 5] * 2
    assert source.skipped == 2
    assert [e.kind for e in events] == ["skipped", "skipped"]
    assert "img2.bmp" in events[0].message and "img10.png" in events[1].message
    assert sum("img2.bmp" in r.getMessage() for r in caplog.records) == 1


def test_a_folder_whose_first_images_are_damaged_starts_at_the_first_good_one(folder):
    (folder / "img1.png").write_bytes(b"\x89PNG broken")
    with ImageFolderSource(folder) as source:
        first = source.read()
    assert (first.index, level(first), source.skipped) == (1, 1, 1)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: d, r"holds no images \(\.jpg, \.jpeg, \.png, \.bmp\): choose a folder"),
        (lambda d: d / "missing", "image folder not found"),
        (
            lambda d: (d / "a.jpg").write_text("x") and (d / "b.png").write_text("y") and d,
            r"none of the 2 images in .* can be read",
        ),
    ],
    ids=["empty", "missing", "all-damaged"],
)
def test_a_folder_without_playable_images_is_one_clear_error(tmp_path, make, expected):
    (tmp_path / "notes.txt").write_text("no images here\n")
    with pytest.raises(SourceError, match=expected):
        ImageFolderSource(make(tmp_path))


def test_open_source_opens_a_folder_at_the_given_rate(folder):
    for spec in (str(folder), f"file://{folder}", f"{folder}/"):
        source = open_source(spec, fps=5.0, loop=True)
        assert isinstance(source, ImageFolderSource)
        assert (source.fps, source.loop, source.info.frame_count) == (5.0, True, 6)
    assert open_source(str(folder)).fps == 1.0  # the default rate
    with pytest.raises(SourceError, match="more than 0 images per second"):
        open_source(str(folder), fps=0)
    clip = write_video(folder / "sub" / "clip.avi", frames=3)
    assert isinstance(open_source(str(clip)), FileSource)  # files are still files


def test_the_real_fog_images_play_with_their_own_sizes(realdata):
    folder = realdata / "labelled" / "dawn_fog" / "images"
    with ImageFolderSource(folder) as source:
        info = source.info
        frames = read_all(source, limit=12)
    assert info.frame_count == 186 and source.skipped == 0
    assert [f.image.shape[1::-1] for f in frames[:1]] == [info.size]
    assert len({f.image.shape for f in frames}) > 3


def test_a_mixed_size_folder_plays_through_the_frame_loop_into_every_consumer(
    tmp_path, bundled_model
):
    images = tmp_path / "images"
    images.mkdir()
    sizes = [(1280, 675), (1280, 909), (640, 360), (1280, 675)]
    for number, size in enumerate(sizes):
        write_image(images / f"cam-{number}.jpg", 40 + 50 * number, size)
    source = ImageFolderSource(images, fps=2.0)
    out = tmp_path / "annotated.mp4"
    writer = AnnotatedVideoWriter(out, source.info.fps, source.info.size)
    capture = CaptureBuffer(tmp_path / "capture")
    results: list[FrameResult] = []
    loop = FrameLoop(
        source,
        DetectorSlot(OnnxDetector(bundled_model)),
        observers={"drift": DriftMonitor()},
        consumers=[results.append, capture, writer],
        every_frame=True,
    )
    loop.start()
    outcome = loop.wait(30)
    writer.finish()
    capture.flush()
    capture.close()
    assert outcome.reason == "ended" and outcome.error is None, outcome
    assert [r.frame.image.shape[1::-1] for r in results] == sizes
    assert all("drift" in r.observations for r in results)
    stored = [load_frame(tmp_path / "capture", i) for i in stored_indices(tmp_path / "capture")]
    assert [f.size for f in stored] == sizes
    assert [cv2.imread(str(f.image)).shape[1::-1] for f in stored] == sizes
    video = cv2.VideoCapture(str(out))
    written = []
    while (grabbed := video.read())[0]:
        written.append(grabbed[1].shape[1::-1])
    # every frame is scaled to the video's size; mp4v writes even heights (675 -> 674)
    assert written == [(1280, 674)] * len(sizes)
