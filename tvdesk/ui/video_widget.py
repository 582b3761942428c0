"""Shows video frames with their detection boxes (and track ids), scaled to fit with the aspect
ratio kept; the counting lines and zones over them, drawn and edited with the mouse through a
`ShapeEditor` (`editor`). Boxes predicted from tracks between two detections are dashed, and
the frame says "predicted" in its corner."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.counting import CountingSnapshot
from tvdesk.ui.counting_overlay import FrameMapping, paint_draft, paint_shapes, paint_trails
from tvdesk.ui.shape_editor import OFF, ShapeEditor

DASHES = [3.0, 3.0]  # a predicted box's dashes and gaps, in pen widths (6 px, as in videos)
PREDICTED = "predicted"  # the corner tag of a frame whose boxes were not detected
PICK_PX = 9.0  # how near (widget px) a click must be to a corner or line to take it

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
    """Paints the latest frame, its boxes and its counting; holds a reference to the frame it
    shows. Mouse and keys go to `editor` while one of its modes is on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMouseTracking(True)
        self._frame: np.ndarray | None = None
        self._detections = Detections()
        self._counting: CountingSnapshot | None = None
        self._predicted = False
        self._placeholder = "No video"
        self.editor = ShapeEditor(self)
        self.editor.changed.connect(self.update)

    @property
    def detections(self) -> Detections:
        return self._detections

    @property
    def counting(self) -> CountingSnapshot | None:
        return self._counting

    @property
    def predicted(self) -> bool:
        """Whether the boxes shown were predicted from tracks rather than detected."""
        return self._predicted

    def show_frame(
        self,
        frame: np.ndarray,
        detections: Detections,
        counting: CountingSnapshot | None = None,
        predicted: bool = False,
    ) -> None:
        """A frame and its boxes; `predicted` boxes keep the last detected frame's counting
        (its lines, zones and totals) when `counting` is None."""
        if predicted and counting is None:
            counting = self._counting
        self._frame, self._detections, self._counting = frame, detections, counting
        self._predicted = predicted
        self.update()

    def show_message(self, text: str) -> None:
        self._frame, self._detections, self._placeholder = None, Detections(), text
        self._counting, self._predicted = None, False
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
        mapping = self.mapping()
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, 9.0 * min(1.5, mapping.scale)))
        painter.setFont(font)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_counting(painter, mapping)
        self._paint_boxes(painter, target, mapping.scale)
        if self._predicted:
            paint_tag(
                painter,
                QRectF(target.topLeft(), target.topLeft()),
                PREDICTED,
                QColor("#9a9da5"),
                target.y(),
            )
        paint_draft(painter, mapping, self.editor.draft)

    def mapping(self) -> FrameMapping:
        """Frame pixels to widget pixels as the frame is drawn now."""
        target = self.image_rect()
        width = self._frame.shape[1] if self._frame is not None else 1
        return FrameMapping(target, target.width() / width if target.width() else 1.0)

    def _paint_counting(self, painter: QPainter, mapping: FrameMapping) -> None:
        editing = self.editor.mode != OFF
        if self._counting is not None:
            paint_trails(painter, mapping, self._counting, class_colour)
        paint_shapes(
            painter, mapping, self.editor.shown(), self._counting, self.editor.selected, editing
        )

    def _paint_boxes(self, painter: QPainter, target: QRectF, scale: float) -> None:
        d = self._detections
        if not len(d):
            return
        tracked = self._counting is not None and not self._predicted
        ids = self._counting.detection_ids(len(d)) if tracked else [None] * len(d)
        for (x1, y1, x2, y2), score, cid, label, track_id in zip(
            d.xyxy, d.scores, d.class_ids, d.labels(), ids, strict=True
        ):
            colour = class_colour(cid)
            box = QRectF(
                target.x() + x1 * scale,
                target.y() + y1 * scale,
                (x2 - x1) * scale,
                (y2 - y1) * scale,
            )
            pen = QPen(colour, 2)
            if self._predicted:
                pen.setDashPattern(DASHES)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(box)
            tag = f"{label} {score:.2f}" + (f" #{track_id}" if track_id is not None else "")
            paint_tag(painter, box, tag, colour, target.y())

    # -- the editor's events ---------------------------------------------------------------

    def _editing(self) -> bool:
        return self.editor.mode != OFF and self._frame is not None

    def _frame_point(self, event) -> tuple[float, float]:
        """The event's point in frame pixels, kept inside the frame."""
        x, y = self.mapping().frame_point(event.position())
        height, width = self._frame.shape[:2]
        return (min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height)))

    def _tolerance(self) -> float:
        return PICK_PX / self.mapping().scale

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if not self._editing() or event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self.setFocus()
        self.editor.press(self._frame_point(event), self._tolerance())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self._editing():
            self.editor.move(self._frame_point(event))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self._editing() and event.button() == Qt.MouseButton.LeftButton:
            self.editor.release(self._frame_point(event), self._tolerance())
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self._editing():
            self.editor.double_click(self._frame_point(event))
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if not (self.editor.mode != OFF and self.editor.key(Qt.Key(event.key()))):
            super().keyPressEvent(event)

    def event(self, event) -> bool:
        """While lines or zones are drawn, Esc is the editor's (cancel), not the window's
        shortcut (back to the camera wall)."""
        drawing = event.type() == QEvent.Type.ShortcutOverride and self.editor.mode != OFF
        if drawing and event.key() == Qt.Key.Key_Escape:
            event.accept()
            return True
        return super().event(event)
