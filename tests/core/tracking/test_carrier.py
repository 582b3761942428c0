"""The carrier predicts the boxes of skipped frames from the tracks of detected ones."""

from __future__ import annotations

import numpy as np

from tvdesk.core.detector.detections import Detections, box_iou
from tvdesk.core.tracking.carrier import BoxCarrier

NAMES = ("car", "truck")
FPS = 30.0
SPEED = (300.0, 60.0)  # px/s of the car in x and y


def car(t: float, score: float = 0.9, class_id: int = 0) -> Detections:
    """A 60x40 px car driving at `SPEED` from (100, 100)."""
    x, y = 100.0 + SPEED[0] * t, 100.0 + SPEED[1] * t
    return Detections(
        np.array([[x, y, x + 60.0, y + 40.0]], np.float32),
        np.array([score], np.float32),
        np.array([class_id], np.int64),
        NAMES,
    )


def test_skipped_frames_get_the_boxes_where_the_car_has_moved_to():
    carrier = BoxCarrier()
    for i in range(0, 9, 3):  # every third frame detected
        carrier.detected(car(i / FPS), i / FPS)
    for i in (7, 8):
        t = i / FPS
        assert float(box_iou(carrier.predicted(t).xyxy, car(t).xyxy)[0, 0]) > 0.95
    predicted = carrier.predicted(8 / FPS)
    assert predicted.labels() == ["car"] and predicted.names == NAMES
    assert np.allclose(predicted.scores, 0.9)


def test_a_new_vehicle_is_carried_where_it_was_first_seen():
    carrier = BoxCarrier()
    carrier.detected(car(0.0), 0.0)
    assert np.allclose(carrier.predicted(1 / FPS).xyxy, car(0.0).xyxy)


def test_nothing_is_carried_before_a_detection_or_after_a_reset():
    carrier = BoxCarrier()
    assert len(carrier.predicted(0.1)) == 0
    carrier.detected(car(0.0), 0.0)
    carrier.reset()
    assert len(carrier.predicted(0.1)) == 0


def test_a_vehicle_the_last_detection_missed_is_not_carried():
    carrier = BoxCarrier()
    for i in range(0, 9, 3):
        carrier.detected(car(i / FPS), i / FPS)
    carrier.detected(Detections(names=NAMES), 9 / FPS)
    assert len(carrier.predicted(10 / FPS)) == 0


def test_a_box_too_weak_for_a_track_is_held_where_it_was():
    carrier = BoxCarrier()
    carrier.detected(car(0.0, score=0.3), 0.0)
    held = carrier.predicted(1 / FPS)
    assert np.allclose(held.xyxy, car(0.0).xyxy) and np.allclose(held.scores, 0.3)
