"""The annotated video draws predicted boxes dashed and says so in its status line."""

from __future__ import annotations

import time

import numpy as np

from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.annotate import class_colour, draw_result
from tvdesk.core.session.frame_loop import FrameResult, FrameStats
from tvdesk.core.sources import Frame

BOX = (40, 60, 200, 140)


def result(detected: bool) -> FrameResult:
    frame = Frame(np.zeros((180, 320, 3), np.uint8), 7, 0.25, time.monotonic(), 1.0)
    stats = FrameStats(1.0, 1.0, 10.0, 1.0, 13.0, 15.0, 30.0, 0, detect_every=3)
    detections = Detections(
        np.array([BOX], np.float32), np.array([0.8], np.float32), np.array([0]), ("car",)
    )
    return FrameResult(frame, detections, stats, "v1", {}, detected=detected)


def bottom_edge(image: np.ndarray) -> np.ndarray:
    """Which pixels of the box's bottom edge are in the box's colour."""
    x1, _, x2, y2 = BOX
    return (image[y2, x1 + 1 : x2] == class_colour(0)).all(axis=1)


def test_detected_boxes_are_solid_and_predicted_ones_dashed():
    solid, dashed = draw_result(result(True)), draw_result(result(False))
    assert bottom_edge(solid).all()
    assert 0.3 < bottom_edge(dashed).mean() < 0.9  # line caps eat into the gaps


def test_the_status_line_says_the_boxes_are_predicted():
    solid, dashed = draw_result(result(True)), draw_result(result(False))
    status_row = slice(0, 20)
    written = (solid[status_row] > 128).any(axis=2).sum(axis=0).nonzero()[0].max()
    longer = (dashed[status_row] > 128).any(axis=2).sum(axis=0).nonzero()[0].max()
    assert longer > written + 50  # "  predicted (detecting 1 in 3)" follows the fps and model
