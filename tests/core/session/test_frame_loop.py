"""The frame loop on real sources: every-frame, real-time and live pacing, pause, seek, stop,
hot-swap between frames, observers, and a run recorded in SQLite and read by another process.

Loop mechanics use `SleepyDetector`, a stand-in whose only job is to take a known time; every
test that is about detection runs the real OnnxDetector on the bundled model.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from media import FAST_POLICY, MjpegCamera, wait_for, write_video

from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.frame_loop import FrameLoop, FrameResult
from tvdesk.core.session.recorder import SessionRecorder
from tvdesk.core.sources import FileSource, StreamSource, SyntheticSource
from tvdesk.core.store import Store, StoreWriter

COCO_MODEL = "models/yolov8n_int8_320.onnx"


@dataclass(frozen=True)
class Times:
    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float


class SleepyDetector:
    """Stands in for OnnxDetector in loop-mechanics tests: takes `delay` s and finds nothing."""

    def __init__(self, delay: float = 0.0, version: str = "sleepy") -> None:
        self.delay = delay
        self.version = version
        self.precision = "fp32"
        self.timings = Times(0.0, delay * 1000.0, 0.0)

    def detect(self, frame) -> Detections:
        time.sleep(self.delay)
        return Detections()


class CountingSlot:
    """Counts how often the loop asks for the current detector."""

    def __init__(self, detector) -> None:
        self._detector = detector
        self.reads = 0

    @property
    def current(self):
        self.reads += 1
        return self._detector


class Collector:
    def __init__(self) -> None:
        self.results: list[FrameResult] = []

    def __call__(self, result: FrameResult) -> None:
        self.results.append(result)

    @property
    def indices(self) -> list[int]:
        return [r.frame.index for r in self.results]


def loop_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("tvdesk-")]


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_video(tmp_path / "clip.avi", frames=40, fps=40.0)


@pytest.fixture(scope="module")
def detector(bundled_model) -> OnnxDetector:
    return OnnxDetector(bundled_model)


def every_frame_loop(clip: Path, collector: Collector, delay: float = 0.01) -> FrameLoop:
    return FrameLoop(
        FileSource(clip),
        CountingSlot(SleepyDetector(delay)),
        consumers=[collector],
        every_frame=True,
    )


def run_to_end(loop: FrameLoop, timeout: float = 30.0):
    loop.start()
    outcome = loop.wait(timeout)
    assert outcome is not None, "the loop did not end in time"
    return outcome


def test_every_frame_processes_each_frame_once_in_order(clip):
    collector = Collector()
    slot = CountingSlot(SleepyDetector())
    outcome = run_to_end(FrameLoop(FileSource(clip), slot, consumers=[collector], every_frame=True))
    assert (outcome.reason, outcome.frames, outcome.dropped) == ("ended", 40, 0)
    assert collector.indices == list(range(40))
    assert slot.reads == 40
    stats = collector.results[-1].stats
    assert stats.fps > 0 and stats.total_ms >= stats.capture_ms >= 0
    assert loop_threads() == []


def test_observers_see_every_frame_and_their_answers_travel_with_it(clip):
    seen: list[tuple[int, float]] = []

    class Watcher:
        def update(self, frame, detections, timestamp):
            seen.append((frame.shape[1], timestamp))
            return len(seen)

    collector = Collector()
    run_to_end(
        FrameLoop(
            FileSource(clip),
            CountingSlot(SleepyDetector()),
            observers={"watch": Watcher()},
            consumers=[collector],
            every_frame=True,
        )
    )
    assert len(seen) == 40 and seen[1] == (160, pytest.approx(1 / 40))
    assert [r.observations["watch"] for r in collector.results] == list(range(1, 41))


def test_real_time_file_keeps_the_clock_and_skips_what_it_cannot_show(clip):
    collector = Collector()
    started = time.monotonic()
    outcome = run_to_end(
        FrameLoop(FileSource(clip), CountingSlot(SleepyDetector(0.1)), consumers=[collector])
    )
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 1.6  # 40 frames at 40 fps
    assert outcome.dropped > 20 and outcome.frames + outcome.dropped <= 40
    assert collector.indices == sorted(set(collector.indices))
    for result in collector.results:  # each shown frame is the one due when it was taken
        assert result.frame.timestamp <= result.frame.captured_at - started + 0.05


def test_real_time_file_plays_no_faster_than_its_frame_rate(clip):
    started = time.monotonic()
    outcome = run_to_end(FrameLoop(FileSource(clip), CountingSlot(SleepyDetector())))
    assert time.monotonic() - started > 0.95
    assert (outcome.frames, outcome.dropped) == (40, 0)


def test_live_source_latency_stays_bounded_when_the_detector_is_slower():
    collector = Collector()
    camera = SyntheticSource("day", fps=40.0, size=(160, 90))
    loop = FrameLoop(camera, CountingSlot(SleepyDetector(0.1)), consumers=[collector])
    loop.start()
    time.sleep(2.0)
    assert loop.stop()
    latencies = [r.stats.latency_ms for r in collector.results]
    assert len(latencies) >= 10
    assert loop.dropped > len(latencies)  # the camera made ~80 frames, the loop took ~18
    assert max(latencies) < 100 + 2 * 25 + 150  # detect + up to two frame periods + slack
    third = len(latencies) // 3
    assert max(latencies[-third:]) < max(latencies[:third]) + 100  # no queue building up


def paused_for(loop: FrameLoop, collector: Collector, seconds: float) -> int:
    """Start, pause after a few results, check that none comes for `seconds`, resume; returns
    how many results there were before the pause."""
    loop.start()
    assert wait_for(lambda: len(collector.results) >= 3, 5)
    loop.pause()
    time.sleep(0.1)  # the frame in flight may still land
    held = len(collector.results)
    time.sleep(seconds)
    assert len(collector.results) == held and loop.paused
    loop.resume()
    return held


def test_pause_holds_the_file_and_resume_goes_on_without_a_gap(clip):
    collector = Collector()
    loop = every_frame_loop(clip, collector)
    paused_for(loop, collector, 0.3)
    assert loop.wait(10).reason == "ended"
    assert collector.indices == list(range(40))


def test_pause_on_a_live_source_resumes_on_a_fresh_frame():
    collector = Collector()
    loop = FrameLoop(
        SyntheticSource("day", fps=30.0, size=(160, 90)),
        CountingSlot(SleepyDetector()),
        consumers=[collector],
    )
    held = paused_for(loop, collector, 0.4)
    assert wait_for(lambda: len(collector.results) > held, 5)
    assert collector.results[held].stats.latency_ms < 100
    assert loop.stop()


def test_seek_lands_between_frames(clip):
    collector = Collector()
    loop = every_frame_loop(clip, collector)

    def seek_once(result: FrameResult) -> None:
        if result.frame.index == 5:
            loop.seek(30)

    loop.consumers.append(seek_once)
    assert run_to_end(loop).reason == "ended"
    assert collector.indices == [0, 1, 2, 3, 4, 5, *range(30, 40)]


@pytest.mark.parametrize("kind", ["every-frame", "real-time", "live", "stream"])
def test_stop_is_prompt_and_leaves_no_thread(clip, kind):
    camera = MjpegCamera().start() if kind == "stream" else None
    try:
        source = {
            "every-frame": lambda: FileSource(clip, loop=True),
            "real-time": lambda: FileSource(clip, loop=True),
            "live": lambda: SyntheticSource("day", fps=30.0, size=(160, 90)),
            "stream": lambda: StreamSource(camera.url, FAST_POLICY),
        }[kind]()
        collector = Collector()
        loop = FrameLoop(
            source,
            CountingSlot(SleepyDetector(0.05)),
            consumers=[collector],
            every_frame=kind == "every-frame",
        )
        loop.start()
        assert wait_for(lambda: len(collector.results) >= 3, 5)
        started = time.monotonic()
        assert loop.stop()
        assert time.monotonic() - started < 0.5
        assert loop.wait(0).reason == "stopped"
        assert loop_threads() == []
    finally:
        if camera:
            camera.cut()


def test_stop_during_a_stalled_stream_returns_at_once_and_the_capture_ends_by_its_timeout():
    camera = MjpegCamera().start()
    collector = Collector()
    loop = FrameLoop(
        StreamSource(camera.url, FAST_POLICY), CountingSlot(SleepyDetector()), consumers=[collector]
    )
    try:
        loop.start()
        assert wait_for(lambda: len(collector.results) >= 3, 5)
        camera.stalled.set()
        time.sleep(0.3)  # the capture thread is now blocked in a read that gets nothing
        started = time.monotonic()
        loop.stop()  # False: the capture thread is still inside FFmpeg's read
        assert time.monotonic() - started < 0.6 and not loop.running
        assert loop.wait(FAST_POLICY.read_timeout_s + 1.0).reason == "stopped"
        assert loop_threads() == []
    finally:
        camera.cut()


def test_a_failing_consumer_fails_the_run_with_its_error(clip):
    def broken(result: FrameResult) -> None:
        if result.frame.index == 3:
            raise ValueError("consumer broke")

    outcome = run_to_end(
        FrameLoop(
            FileSource(clip), CountingSlot(SleepyDetector()), consumers=[broken], every_frame=True
        )
    )
    assert outcome.reason == "failed" and str(outcome.error) == "consumer broke"
    assert outcome.frames == 4  # frames 0-3 reached the consumers
    assert loop_threads() == []


def test_hot_swap_lands_between_frames(tmp_path, detector, realdata):
    clip = write_video(tmp_path / "swap.avi", frames=16, fps=25.0, size=(320, 180))
    slot = DetectorSlot(detector)
    collector = Collector()
    swaps = []

    def swap_after_three(result: FrameResult) -> None:
        if result.frame.index == 2:  # the frame thread waits here until the swap is done
            swaps.append(threading.Thread(target=slot.load_and_swap, args=(realdata / COCO_MODEL,)))
            swaps[0].start()
            swaps[0].join(30)

    loop = FrameLoop(
        FileSource(clip), slot, consumers=[collector, swap_after_three], every_frame=True
    )
    assert run_to_end(loop, timeout=60).reason == "ended"
    swaps[0].join(30)
    versions = [r.model_version for r in collector.results]
    assert collector.indices == list(range(16))
    assert versions[0] == detector.version and versions[-1] == "yolov8n_int8_320"
    switch = versions.index("yolov8n_int8_320")
    assert switch == 3
    assert set(versions[:switch]) == {detector.version}
    assert set(versions[switch:]) == {"yolov8n_int8_320"}
    assert all(len(r.detections.names) == 80 for r in collector.results[switch:])


READ_BACK = """
import json, sys
from tvdesk.core.store import Store
with Store(sys.argv[1]) as store:
    session = store.sessions.get(int(sys.argv[2]))
    print(json.dumps({"session": session, "stats": store.sessions.stats(session["id"]),
                      "samples": store.sessions.samples(session["id"])}))
"""


def test_a_run_is_recorded_and_readable_from_another_process(tmp_path, detector):
    clip = write_video(tmp_path / "rec.avi", frames=61, fps=30.0, size=(320, 180))
    path = tmp_path / "tvdesk.db"
    with Store(path) as store, StoreWriter(path) as writer:
        source = FileSource(clip)
        recorder = SessionRecorder(store, writer, source.info, detector.version)
        loop = FrameLoop(source, DetectorSlot(detector), consumers=[recorder], every_frame=True)
        loop.on_finished(recorder.finish)
        assert run_to_end(loop).reason == "ended"
    out = subprocess.run(
        [sys.executable, "-c", READ_BACK, str(path), str(recorder.session_id)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(out.stdout)
    session = data["session"]
    assert (session["status"], session["frames"], session["dropped"]) == ("ended", 61, 0)
    assert session["source"] == str(clip) and session["model_version"] == detector.version
    assert session["ended"] >= session["started"]
    assert sum(row["frames"] for row in data["stats"]) == 61
    assert all(row["inference_ms"] > 0 for row in data["stats"])
    assert [s["frame_index"] for s in data["samples"]] == [0, 30, 60]  # one per stream second


def test_the_loop_rides_out_a_stream_cut(detector):
    camera = MjpegCamera(fps=20.0).start()
    source = StreamSource(camera.url, FAST_POLICY)
    events = []
    source.subscribe(events.append)
    collector = Collector()
    loop = FrameLoop(source, DetectorSlot(detector), consumers=[collector])
    loop.start()
    try:
        assert wait_for(lambda: len(collector.results) >= 5, 10)
        camera.cut()
        assert wait_for(lambda: any(e.kind == "reconnecting" for e in events), 10)
        before = len(collector.results)
        camera.restore()
        assert wait_for(lambda: len(collector.results) >= before + 5, 10)
        assert loop.running
    finally:
        assert loop.stop()
        camera.cut()
    assert [e.kind for e in events][-1] == "reconnected"
