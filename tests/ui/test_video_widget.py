"""The video widget marks boxes predicted from tracks: dashed, with "predicted" in the corner,
and the last detected frame's counting kept under them."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor

from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.counting import CountingSnapshot
from tvdesk.core.tracking import CountingFrame, Tracks
from tvdesk.ui.video_widget import VideoWidget, class_colour

BOX = (40.0, 60.0, 200.0, 140.0)
CAR = Detections(np.array([BOX], np.float32), np.array([0.8], np.float32), np.array([0]), ("car",))


def bottom_edge(widget: VideoWidget) -> np.ndarray:
    """Which pixels along the box's bottom edge, as painted, are in the box's colour."""
    image = widget.grab().toImage()
    mapping = widget.mapping()
    left, right = mapping.point(BOX[:2]).x(), mapping.point(BOX[2:]).x()
    y = round(mapping.point(BOX[2:]).y())
    colour = class_colour(0)
    return np.array(
        [
            QColor(image.pixel(x, y)).green() > colour.green() - 40
            for x in range(round(left) + 2, round(right) - 2)
        ]
    )


def test_predicted_boxes_are_dashed_and_detected_ones_solid(qtbot):
    widget = VideoWidget()
    qtbot.addWidget(widget)
    widget.resize(320, 180)
    frame = np.zeros((180, 320, 3), np.uint8)
    widget.show_frame(frame, CAR)
    assert not widget.predicted and bottom_edge(widget).all()
    widget.show_frame(frame, CAR, predicted=True)
    assert widget.predicted and 0.2 < bottom_edge(widget).mean() < 0.8


def test_predicted_frames_keep_the_last_detected_counting(qtbot):
    widget = VideoWidget()
    qtbot.addWidget(widget)
    counting = CountingSnapshot(CountingFrame(Tracks(t=0.0)))
    frame = np.zeros((180, 320, 3), np.uint8)
    widget.show_frame(frame, CAR, counting)
    widget.show_frame(frame, CAR, None, predicted=True)
    assert widget.counting is counting
    widget.show_frame(frame, CAR, None)
    assert widget.counting is None
