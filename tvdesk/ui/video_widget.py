"""Shows video frames with their detection boxes, scaled to fit with the aspect ratio kept."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from tvdesk.core.detector.detections import Detections

CLASS_COLOURS = ("#33d17a", "#3584e4", "#f6d32d", "#e66100", "#c061cb", "#2ec27e", "#ed333b")


def class_colour(class_id: int) -> QColor:
    return QColor(CLASS_COLOURS[int(class_id) % len(CLASS_COLOURS)])


def qimage_from_bgr(frame: np.ndarray) -> QImage:
    """Wrap a BGR uint8 frame without copying pixels; the array must outlive the QImage."""
    h, w = frame.shape[:2]
    if not frame.flags["C_CONTIGUOUS"]:
        frame = np.ascontiguousarray(frame)
    return QImage(frame.data, w, h, frame.strides[0], QImage.Format.Format_BGR888)


def paint_tag(painter: QPainter, box: QRectF, text: str, colour: QColor, top: float = 0.0) -> None:
    """A box's label: `text` on a `colour` tag above the box (inside it when above is `top`)."""
    metrics = painter.fontMetrics()
    tag = QRectF(
        box.x(), box.y() - metrics.height(), metrics.horizontalAdvance(text) + 6, metrics.height()
    )
    if tag.y() < top:
        tag.moveTop(box.y())
    painter.fillRect(tag, colour)
    painter.setPen(QColor("#000000"))
    painter.drawText(tag.topLeft() + QPointF(3, metrics.ascent()), text)


class VideoWidget(QWidget):
    """Paints the latest frame and its boxes; holds a reference to the frame it shows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._frame: np.ndarray | None = None
        self._detections = Detections()
        self._placeholder = "No video"

    @property
    def detections(self) -> Detections:
        return self._detections

    def show_frame(self, frame: np.ndarray, detections: Detections) -> None:
        self._frame, self._detections = frame, detections
        self.update()

    def show_message(self, text: str) -> None:
        self._frame, self._detections, self._placeholder = None, Detections(), text
        self.update()

    def image_rect(self) -> QRectF:
        """Where the frame is drawn inside the widget (letterboxed)."""
        if self._frame is None:
            return QRectF()
        h, w = self._frame.shape[:2]
        scale = min(self.width() / w, self.height() / h)
        dw, dh = w * scale, h * scale
        return QRectF((self.width() - dw) / 2, (self.height() - dh) / 2, dw, dh)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111318"))
        if self._frame is None:
            painter.setPen(QColor("#9a9da5"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        target = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, qimage_from_bgr(self._frame))
        self._paint_boxes(painter, target)

    def _paint_boxes(self, painter: QPainter, target: QRectF) -> None:
        d = self._detections
        if not len(d):
            return
        scale = target.width() / self._frame.shape[1]
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, 9.0 * min(1.5, scale)))
        painter.setFont(font)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for (x1, y1, x2, y2), score, cid, label in zip(
            d.xyxy, d.scores, d.class_ids, d.labels(), strict=True
        ):
            colour = class_colour(cid)
            box = QRectF(
                target.x() + x1 * scale,
                target.y() + y1 * scale,
                (x2 - x1) * scale,
                (y2 - y1) * scale,
            )
            painter.setPen(QPen(colour, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(box)
            paint_tag(painter, box, f"{label} {score:.2f}", colour, target.y())
