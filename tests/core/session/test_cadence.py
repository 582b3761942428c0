"""The cadence detects one frame in k, k rising under a slow detector and falling back."""

from __future__ import annotations

import numpy as np
import pytest

from tvdesk.core.session.cadence import DetectionCadence
from tvdesk.core.sources import make_frame

FPS = 30.0


def frames(start: int = 0, step: int = 1):
    """Frames of a 30 fps stream from index `start`, `step` apart (a live feed drops some)."""
    index = start
    while True:
        yield make_frame(np.zeros((4, 4, 3), np.uint8), index, index / FPS, 0.0)
        index += step


def play(cadence: DetectionCadence, count: int, cost_s: float, stream=None) -> list[bool]:
    """Which of `count` frames were detected, each detection costing `cost_s`."""
    stream = stream or frames()
    due = []
    for _ in range(count):
        due.append(cadence.due(next(stream)))
        if due[-1]:
            cadence.detected(cost_s)
    return due


def test_k_rises_under_a_slow_detector_to_the_smallest_that_keeps_up():
    cadence = DetectionCadence(max_every=5)
    due = play(cadence, 60, cost_s=0.07)  # 2.1 frame periods
    assert cadence.every == 3
    detected = np.flatnonzero(due[-30:])
    assert len(detected) == 10 and set(np.diff(detected)) == {3}


def test_k_never_goes_above_its_maximum():
    cadence = DetectionCadence(max_every=3)
    due = play(cadence, 60, cost_s=0.5)
    assert cadence.every == 3 and sum(due[-30:]) == 10


def test_a_maximum_of_one_detects_every_frame_whatever_it_costs():
    cadence = DetectionCadence(max_every=1)
    assert all(play(cadence, 30, cost_s=0.5))
    assert cadence.every == 1


def test_k_falls_back_when_the_load_goes():
    cadence = DetectionCadence(max_every=4)
    stream = frames()
    play(cadence, 60, cost_s=0.09, stream=stream)
    assert cadence.every == 4
    due = play(cadence, 90, cost_s=0.01, stream=stream)
    assert cadence.every == 1 and all(due[-10:])


def test_a_fast_detector_detects_every_frame():
    cadence = DetectionCadence(max_every=3)
    assert all(play(cadence, 30, cost_s=0.02))


def test_dropped_live_frames_do_not_stretch_the_period():
    cadence = DetectionCadence(max_every=3)
    play(cadence, 20, cost_s=0.05, stream=frames(step=2))
    assert cadence.period_s == pytest.approx(1 / FPS)


def test_a_jump_in_time_detects_the_next_frame_at_once():
    cadence = DetectionCadence(max_every=3)
    play(cadence, 30, cost_s=0.09)
    assert cadence.every == 3
    assert cadence.due(next(frames(start=0)))  # the stream went back: a seek, a loop
    cadence.reset()
    assert cadence.due(next(frames(start=500)))


def test_a_maximum_below_one_is_refused():
    with pytest.raises(ValueError, match="max_every"):
        DetectionCadence(max_every=0)
