"""The detection engine: turns go round the cameras, so each gets the same share of a detector
that cannot keep up, and a camera that stops asking never holds anyone up."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from detector_support import synthetic_frames

from tvdesk.core.detector import OnnxDetector
from tvdesk.core.session.engine import DetectionEngine

WORK_S = 0.01  # one "detection"


def _camera(engine: DetectionEngine, name: str, until: float, pause_s: float = 0.0) -> None:
    while time.monotonic() < until:
        with engine.turn(name):
            time.sleep(WORK_S)  # the detector's time: nobody else may detect meanwhile
        time.sleep(pause_s)  # the loop's own work between two frames


def _run(engine: DetectionEngine, cameras: dict[str, float], seconds: float) -> dict:
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_camera, args=(engine, name, until, pause))
        for name, pause in cameras.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: share.turns for name, share in engine.shares().items()}


def test_turns_go_round_so_every_camera_gets_the_same_share():
    turns = _run(DetectionEngine(), {f"camera {i}": 0.0 for i in range(4)}, 1.5)
    assert len(turns) == 4
    assert max(turns.values()) - min(turns.values()) <= 1  # round and round
    assert sum(turns.values()) <= 1.5 / WORK_S + 4  # one detection at a time


def test_a_camera_that_asks_less_takes_less_and_slows_nobody():
    turns = _run(DetectionEngine(), {"busy": 0.0, "also busy": 0.0, "slow": 0.1}, 1.5)
    assert turns["slow"] < turns["busy"] / 3
    assert abs(turns["busy"] - turns["also busy"]) <= 1


def test_concurrent_turns_let_two_detect_at_once():
    engine = DetectionEngine(concurrent=2)
    turns = _run(engine, {"a": 0.0, "b": 0.0}, 1.0)
    assert sum(turns.values()) > 1.5 / WORK_S  # both detected side by side
    with pytest.raises(ValueError, match="concurrent must be 1 or more"):
        DetectionEngine(concurrent=0)


# -- frames of several cameras in one call -----------------------------------------------------

MODELS = Path(__file__).resolve().parents[3] / "resources" / "models"


def _queued_behind_a_turn(engine: DetectionEngine, work: dict[str, tuple]) -> dict:
    """Each camera's `engine.detect(camera, detector, frame)` from its own thread, all queued
    while another camera holds the turn; the boxes each got."""
    out: dict = {}
    threads = [
        threading.Thread(
            target=lambda name=name, d=d, f=f: out.__setitem__(name, engine.detect(name, d, f))
        )
        for name, (d, f) in work.items()
    ]
    with engine.turn("holder"):
        for thread in threads:
            thread.start()
        while len(engine._waiting) < len(threads):  # every camera has queued its frame
            time.sleep(0.005)
    for thread in threads:
        thread.join(30)
    return out


def test_cameras_on_the_same_model_run_in_one_call_and_get_their_own_boxes_exactly():
    frames = synthetic_frames(640, 360, ("day", "dusk", "night", "rain"))
    detectors = [OnnxDetector(MODELS / "tvdesk-base.int8.onnx") for _ in frames]
    alone = [d.detect(f) for d, f in zip(detectors, frames, strict=True)]
    engine = DetectionEngine(max_batch=4)
    work = {f"camera {i}": (d, f) for i, (d, f) in enumerate(zip(detectors, frames, strict=True))}
    got = _queued_behind_a_turn(engine, work)
    assert engine.batches == {4: 1}  # one call for the four frames
    for i, expected in enumerate(alone):
        boxes = got[f"camera {i}"]
        assert len(expected) > 0
        assert np.array_equal(boxes.xyxy, expected.xyxy)
        assert np.array_equal(boxes.scores, expected.scores)
        assert np.array_equal(boxes.class_ids, expected.class_ids)
    assert {name: s.turns for name, s in engine.shares().items() if name != "holder"} == {
        name: 1 for name in work
    }


def test_cameras_on_other_models_or_sizes_run_alone():
    (day,) = synthetic_frames(640, 360, ("day",))
    square = cv2.resize(day, (360, 360))
    work = {
        "synthetic": (OnnxDetector(MODELS / "tvdesk-base.int8.onnx"), day),
        "traffic": (OnnxDetector(MODELS / "tvdesk-traffic.int8.onnx"), day),
        "square": (OnnxDetector(MODELS / "tvdesk-base.int8.onnx"), square),  # 320x320 input
    }
    engine = DetectionEngine(max_batch=4)
    got = _queued_behind_a_turn(engine, work)
    assert engine.batches == {1: 3}
    for name, (detector, frame) in work.items():
        assert np.array_equal(got[name].xyxy, detector.detect(frame).xyxy)


def test_a_batch_holds_max_batch_frames_and_the_rest_wait_their_turn():
    frames = synthetic_frames(640, 360, ("day",) * 5)
    work = {
        f"camera {i}": (OnnxDetector(MODELS / "tvdesk-base.int8.onnx"), frame)
        for i, frame in enumerate(frames)
    }
    engine = DetectionEngine(max_batch=2)
    _queued_behind_a_turn(engine, work)
    assert engine.batches == {2: 2, 1: 1}
    with pytest.raises(ValueError, match="max_batch must be 1 or more"):
        DetectionEngine(max_batch=0)
