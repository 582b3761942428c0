"""A file played at real time with a detector slower than its frame rate: detecting one frame
in k shows more frames, with the others' boxes predicted, and observers see only detections."""

from __future__ import annotations

import time

import pytest
from media import write_synthetic_clip

from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.feeds import RealtimeFeed
from tvdesk.core.session.frame_loop import FrameLoop, FrameResult
from tvdesk.core.sources import FileSource

FPS = 30.0
SECONDS = 2.5
DELAY_S = 0.06  # added to each detection: about two frame periods at 30 fps


class SlowDetector(OnnxDetector):
    """The bundled model, made slower than the clip's frame rate."""

    def detect(self, frame) -> Detections:
        time.sleep(DELAY_S)
        return super().detect(frame)


class Watcher:
    """An observer noting the stream time of each frame it sees."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def update(self, frame, detections, timestamp):
        self.seen.append(timestamp)
        return len(self.seen)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> str:
    return write_synthetic_clip(tmp_path_factory.mktemp("cadence") / "day.avi", SECONDS, FPS)


@pytest.fixture(scope="module")
def slow(bundled_model) -> SlowDetector:
    return SlowDetector(bundled_model)


def play(clip, detector, most: int) -> tuple[list[FrameResult], Watcher]:
    results: list[FrameResult] = []
    watcher = Watcher()
    loop = FrameLoop(
        FileSource(clip),
        DetectorSlot(detector),
        observers={"watch": watcher},
        consumers=[results.append],
        detect_every_max=most,
    )
    loop.start()
    assert loop.wait(30.0).reason == "ended"
    return results, watcher


def test_detecting_one_frame_in_k_shows_more_frames_of_a_slow_detector(clip, slow):
    every, _ = play(clip, slow, most=1)
    cadenced, watcher = play(clip, slow, most=3)
    frames = int(SECONDS * FPS)
    assert all(r.detected for r in every) and len(every) < 0.7 * frames
    assert len(cadenced) > 1.5 * len(every)  # about 2x here: the CPU is shared, so no more
    predicted = [r for r in cadenced if not r.detected]
    assert predicted and max(r.stats.detect_every for r in cadenced) >= 2
    assert sum(len(r.detections) for r in predicted) > 0  # the synthetic day's cars carried
    assert all(r.observations == {} for r in predicted)
    detected = [r for r in cadenced if r.detected]
    assert watcher.seen == [r.frame.timestamp for r in detected]
    assert [r.observations["watch"] for r in detected] == list(range(1, len(detected) + 1))


def test_every_frame_mode_detects_every_frame_whatever_the_maximum(clip, slow):
    results: list[FrameResult] = []
    loop = FrameLoop(
        FileSource(clip),
        DetectorSlot(slow),
        consumers=[results.append],
        every_frame=True,
        detect_every_max=3,
    )
    loop.start()
    assert loop.wait(30.0).frames == int(SECONDS * FPS)
    assert all(r.detected for r in results)


@pytest.mark.parametrize(("late_frames", "skipped"), [(0, True), (2, False)])
def test_a_real_time_feed_skips_a_late_frame_only_beyond_its_allowance(clip, late_frames, skipped):
    feed = RealtimeFeed(FileSource(clip), FPS, late_frames)
    feed.start()
    assert feed.next(1.0).index == 0
    time.sleep(2.5 / FPS)  # a detection two and a half frames long
    frame = feed.next(1.0)
    feed.close()
    assert (frame.index > 1, feed.dropped > 0) == (skipped, skipped)
