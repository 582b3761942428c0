"""DetectorSlot: models hot-swapped under a running stream, bad ones rejected, nothing lost."""

from __future__ import annotations

import gc
import logging
import os
import queue
import shutil
import sys
import threading
import time
import weakref
from dataclasses import replace

import numpy as np
import pytest
from detector_support import fixed_output_model, raw_output, synthetic_frames, ultralytics_metadata

from tvdesk.core.detector import DetectorSlot, OnnxDetector, SwapEvent
from tvdesk.core.detector import slot as detector_slot
from tvdesk.core.detector.onnx_model import save_optimized
from tvdesk.core.detector.slot import LOAD_NICE, FrameGaps, low_priority_for_this_thread

END = None  # the producer's last item


@pytest.fixture
def two_models(bundled_model, tmp_path):
    """The bundled model and a copy of it under another name (so another version)."""
    return bundled_model, shutil.copy(bundled_model, tmp_path / "tvdesk-candidate.onnx")


@pytest.fixture(scope="module")
def frames():
    return synthetic_frames(640, 360, ("day", "dusk", "night"))


@pytest.fixture
def bad_models(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("not a model")
    raw = raw_output(np.array([[50, 50, 20, 20]], np.float32), np.array([[np.nan, 0.9]]))
    nan = fixed_output_model(tmp_path / "nan.onnx", [raw], ultralytics_metadata(["car", "bus"]))
    pose = fixed_output_model(
        tmp_path / "pose.onnx",
        [np.zeros((1, 56, 100), np.float32)],
        ultralytics_metadata(["person"], task="pose"),
    )
    return [tmp_path / "missing.onnx", text, nan, pose]


class Stream:
    """A camera thread queuing frames and a frame thread detecting each with `slot.current`."""

    def __init__(self, slot: DetectorSlot, frames: list[np.ndarray], fps: float = 60) -> None:
        self.slot, self.frames, self.interval = slot, frames, 1 / fps
        self.queue: queue.Queue = queue.Queue()
        self.sent = 0
        self.results: list[tuple[int, str, int]] = []  # frame number, model version, boxes
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._camera), threading.Thread(target=self._loop)]

    def __enter__(self) -> Stream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _camera(self) -> None:
        while not self._stop.is_set():
            self.queue.put((self.sent, self.frames[self.sent % len(self.frames)]))
            self.sent += 1
            time.sleep(self.interval)
        self.queue.put(END)

    def _loop(self) -> None:
        while (item := self.queue.get()) is not END:
            number, frame = item
            detector = self.slot.current  # once per frame, as the frame loop does
            try:
                self.results.append((number, detector.version, len(detector.detect(frame))))
            except BaseException as exc:  # a test failure, reported by the test
                self.errors.append(exc)


def test_swaps_land_between_frames_and_no_frame_is_lost(two_models, bad_models, frames):
    first, second = two_models
    slot = DetectorSlot(OnnxDetector(first))
    events: list[SwapEvent] = []
    slot.subscribe(events.append)
    plan = [second, bad_models[0], first, bad_models[1], second, bad_models[2], first]
    with Stream(slot, frames) as stream:
        time.sleep(0.3)
        for path in plan:
            slot.load_and_swap(path)
            time.sleep(0.15)
    assert not stream.errors
    numbers = [number for number, _, _ in stream.results]
    assert numbers == list(range(stream.sent)), "every frame sent was detected, in order"
    assert [e.accepted for e in events] == [True, False, True, False, True, False, True]
    used = [version for _, version, _ in stream.results]
    runs = [v for i, v in enumerate(used) if i == 0 or used[i - 1] != v]
    assert runs == ["tvdesk-base", "tvdesk-candidate"] * 2 + ["tvdesk-base"]
    assert sum(boxes for _, _, boxes in stream.results) > 0
    assert slot.current.version == "tvdesk-base"


def test_rejected_models_keep_the_old_one_running(bundled_model, bad_models, frames, caplog):
    slot = DetectorSlot(OnnxDetector(bundled_model))
    running = slot.current
    for path, problem in zip(
        bad_models,
        ["not found", "not an ONNX model", "NaN or infinity", "is a 'pose' model"],
        strict=True,
    ):
        with caplog.at_level(logging.WARNING):
            event = slot.load_and_swap(path)
        assert (event.accepted, event.kind) == (False, "rejected")
        assert str(path) in event.reason and problem in event.reason
        assert event.old_version == "tvdesk-base" and event.new_version == path.stem
        assert slot.current is running
        assert "rejected" in caplog.text
    assert len(slot.current.detect(frames[0])) > 0


def test_swap_event_times_and_class_change(bundled_model, tmp_path, frames):
    slot = DetectorSlot(OnnxDetector(bundled_model))
    slot.current.detect(frames[0])
    renamed = fixed_output_model(
        tmp_path / "other.onnx",
        [raw_output(np.array([[50, 50, 20, 20]], np.float32), np.array([[0.1, 0.9, 0.2]]))],
        ultralytics_metadata(["bus", "car", "bicycle"]),
    )
    slot.set_thresholds(conf=0.4, classes=[0, 2])  # car and bus in the bundled model
    event = slot.load_and_swap(renamed)
    assert event.accepted and event.new_version == "other"
    assert event.load_ms > 0 and event.warmup_ms > 0 and event.at > 0
    assert event.class_change == "class list changed: added bicycle; removed truck, motorcycle"
    assert slot.current.thresholds.conf == 0.4
    assert slot.current.thresholds.classes == (0, 1)  # bus and car, followed by name
    assert slot.current.detect(frames[0]).labels() == ["car"]


def test_runtime_options_carry_over_and_the_old_session_is_released(two_models, frames):
    first, second = two_models
    slot = DetectorSlot(OnnxDetector(first, imgsz=640, threads=2, rect=False))
    options, old = slot.current.options, weakref.ref(slot.current)
    slot.current.detect(frames[0])
    assert slot.load_and_swap(second).accepted
    assert slot.current.options == replace(options, spin=False)  # see DetectorSlot
    assert slot.current.input_hw == (640, 640) and not slot.current.rect
    gc.collect()
    assert old() is None, "nothing should keep the swapped-out session alive"


def test_a_failing_subscriber_does_not_stop_the_swap(two_models, caplog):
    first, second = two_models
    slot = DetectorSlot(OnnxDetector(first))
    seen = []

    def broken(event: SwapEvent) -> None:
        raise RuntimeError("the UI fell over")

    slot.subscribe(broken)
    slot.subscribe(seen.append)
    with caplog.at_level(logging.ERROR):
        event = slot.load_and_swap(second)
    assert event.accepted and seen == [event]
    assert "subscriber failed" in caplog.text and "the UI fell over" in caplog.text


def test_a_swap_replacing_a_model_that_no_longer_runs_is_left_out(two_models, tmp_path, caplog):
    first, second = two_models
    third = shutil.copy(first, tmp_path / "tvdesk-third.onnx")
    slot = DetectorSlot(OnnxDetector(first))
    seen = []
    slot.subscribe(seen.append)
    caplog.set_level(logging.INFO, logger="tvdesk.core.detector.slot")
    assert slot.load_and_swap(second, replacing=third) is None  # `first` runs, not `third`
    assert slot.current.path == first and not seen
    assert f"{third} no longer runs" in caplog.text
    event = slot.load_and_swap(second, replacing=first)
    assert event.accepted and slot.current.path == second and seen == [event]
    caplog.clear()  # a second listener of the same timing finds its model running already
    assert slot.load_and_swap(second, replacing=first) is None and seen == [event]
    assert f"not swapping in {second}: it runs already" in caplog.text


def test_a_preoptimized_copy_gives_the_same_boxes(bundled_model, tmp_path, frames):
    optimized = tmp_path / "optimized.onnx"
    save_optimized(bundled_model, optimized)
    plain = OnnxDetector(bundled_model, threads=2)
    fast = OnnxDetector(bundled_model, threads=2, preoptimized=optimized)
    assert fast.path == bundled_model and fast.version == plain.version
    assert fast.names == plain.names and fast.input_hw == plain.input_hw
    for frame in frames:
        ours, theirs = fast.detect(frame), plain.detect(frame)
        assert len(ours) > 0
        np.testing.assert_array_equal(ours.xyxy, theirs.xyxy)
        np.testing.assert_array_equal(ours.scores, theirs.scores)


def test_the_optimizer_thread_alone_gets_a_low_priority():
    if not sys.platform.startswith("linux"):
        pytest.skip("threads have their own nice value only on Linux")
    seen = {}

    def lowered() -> None:
        low_priority_for_this_thread()
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, 0)
    worker = threading.Thread(target=lowered)
    worker.start()
    worker.join()
    assert seen["thread"] == LOAD_NICE
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the process (main thread) unchanged


def test_frame_gaps_wait_for_the_end_of_the_next_frame():
    gaps = FrameGaps(idle_after_s=0.5)
    started = time.monotonic()
    assert gaps.wait_for_gap() is False  # no frame yet: nobody waits
    assert time.monotonic() - started < 0.05
    with gaps:  # a frame
        pass
    timer = threading.Timer(0.1, lambda: gaps.__exit__(None, None, None))
    timer.start()
    started = time.monotonic()
    assert gaps.wait_for_gap() is True
    assert 0.08 < time.monotonic() - started < 0.4
    time.sleep(0.55)  # the stream stopped: a swap goes ahead without waiting
    started = time.monotonic()
    assert gaps.wait_for_gap() is False
    assert time.monotonic() - started < 0.05


def test_swaps_open_the_session_right_after_a_frame(two_models, frames, monkeypatch):
    """With a stream running, the live session is opened just after a frame ends (in the idle
    time before the next), not at a random moment, and its threads do not spin."""
    first, second = two_models
    slot = DetectorSlot(OnnxDetector(first, threads=2))
    ends: list[float] = []
    opened: list[float] = []

    class Clock:
        def __enter__(self):
            pass

        def __exit__(self, *exc):
            ends.append(time.monotonic())
            slot._gaps.__exit__(*exc)

    def opening(*args, **kwargs):
        if kwargs.get("preoptimized") is not None and kwargs["threads"] == 2:  # the live one
            opened.append(time.monotonic())
        return OnnxDetector(*args, **kwargs)

    monkeypatch.setattr(detector_slot, "OnnxDetector", opening)
    with Stream(slot, frames, fps=15) as stream:
        time.sleep(0.3)
        slot.current.frame_scope = Clock()
        for path in (second, first, second):
            assert slot.load_and_swap(path).accepted
            slot.current.frame_scope = Clock()
            time.sleep(0.1)
    assert not stream.errors and len(opened) == 3
    for began in opened:
        last_end = max(t for t in ends if t <= began)
        assert began - last_end < 0.015, "opened right after a frame, not 1/15 s at random"
    assert slot.current.options.spin is False and slot.current.options.threads == 2
    assert [n for n, _, _ in stream.results] == list(range(stream.sent))
