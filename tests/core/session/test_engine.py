"""The detection engine: turns go round the cameras, so each gets the same share of a detector
that cannot keep up, and a camera that stops asking never holds anyone up."""

from __future__ import annotations

import threading
import time

import pytest

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
