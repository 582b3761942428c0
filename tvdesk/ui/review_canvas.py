"""The review dialog's canvas: one frame with its boxes; select a box by clicking it, draw a
new one by dragging, and move or resize the selected one from the keyboard."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from tvdesk.retrain.review_folder import ReviewBox
from tvdesk.ui.video_widget import class_colour, paint_tag

MIN_BOX_PX = 4  # a drag shorter than this (frame pixels) is a click, not a box
NEW_BOX_SHARE = 0.1  # a box made from the keyboard spans this share of the frame


class BoxCanvasWidget(QWidget):
    """Paints `image` letterboxed with `boxes`; the selected box is drawn thick and dashed.

    Signals:
        changed(): the boxes were edited (drawn, moved, resized, deleted, re-classed).
        selection_changed(int): the selected box's index (-1: none).
    """

    changed = Signal()
    selection_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(480, 270)
        self.setMouseTracking(False)
        self.image = QImage()
        self.boxes: list[ReviewBox] = []
        self.names: Sequence[str] = ()
        self.selected = -1
        self.new_class = 0
        self._drag_from: QPointF | None = None
        self._drag_to: QPointF | None = None

    # -- content ---------------------------------------------------------------------------

    def show_frame(self, image: QImage, boxes: list[ReviewBox]) -> None:
        self.image, self.boxes = image, list(boxes)
        self.select(0 if self.boxes else -1)
        self.update()

    def select(self, index: int) -> None:
        self.selected = index if 0 <= index < len(self.boxes) else -1
        self.selection_changed.emit(self.selected)
        self.update()

    def select_next(self, step: int = 1) -> None:
        if self.boxes:
            self.select((self.selected + step) % len(self.boxes))

    def delete_selected(self) -> None:
        if self.selected < 0:
            return
        del self.boxes[self.selected]
        self.select(min(self.selected, len(self.boxes) - 1))
        self.changed.emit()

    def set_selected_class(self, class_id: int) -> None:
        self.new_class = class_id
        if self.selected >= 0:
            box = self.boxes[self.selected]
            self.boxes[self.selected] = ReviewBox(class_id, box.xyxy)
            self.changed.emit()
            self.update()

    def add_box(self, xyxy: tuple[float, float, float, float]) -> None:
        self.boxes.append(ReviewBox(self.new_class, xyxy))
        self.select(len(self.boxes) - 1)
        self.changed.emit()

    def add_centre_box(self) -> None:
        """A new box in the middle of the frame, to be moved and sized from the keyboard."""
        w, h = self.image.width(), self.image.height()
        half_w, half_h = w * NEW_BOX_SHARE / 2, h * NEW_BOX_SHARE / 2
        self.add_box((w / 2 - half_w, h / 2 - half_h, w / 2 + half_w, h / 2 + half_h))

    def nudge(self, dx: float, dy: float, grow: bool = False) -> None:
        """Move the selected box by (dx, dy) frame pixels, or with `grow` move its far corner."""
        if self.selected < 0:
            return
        box = self.boxes[self.selected]
        x1, y1, x2, y2 = box.xyxy
        if grow:
            x2, y2 = max(x1 + MIN_BOX_PX, x2 + dx), max(y1 + MIN_BOX_PX, y2 + dy)
        else:
            x1, y1, x2, y2 = x1 + dx, y1 + dy, x2 + dx, y2 + dy
        self.boxes[self.selected] = ReviewBox(box.class_id, (x1, y1, x2, y2))
        self.changed.emit()
        self.update()

    # -- geometry --------------------------------------------------------------------------

    def image_rect(self) -> QRectF:
        if self.image.isNull():
            return QRectF()
        w, h = self.image.width(), self.image.height()
        scale = min(self.width() / w, self.height() / h)
        return QRectF(
            (self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale
        )

    def to_frame(self, point: QPointF) -> QPointF:
        rect = self.image_rect()
        scale = rect.width() / self.image.width()
        return QPointF((point.x() - rect.x()) / scale, (point.y() - rect.y()) / scale)

    def to_widget(self, xyxy: Sequence[float]) -> QRectF:
        rect = self.image_rect()
        scale = rect.width() / self.image.width()
        x1, y1, x2, y2 = xyxy
        return QRectF(
            rect.x() + x1 * scale, rect.y() + y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale
        )

    def box_at(self, point: QPointF) -> int:
        """The smallest box under `point` (frame pixels), or -1."""
        hits = [
            ((x2 - x1) * (y2 - y1), i)
            for i, (x1, y1, x2, y2) in enumerate(b.xyxy for b in self.boxes)
            if x1 <= point.x() <= x2 and y1 <= point.y() <= y2
        ]
        return min(hits)[1] if hits else -1

    # -- mouse -----------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self.image.isNull() or event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.to_frame(event.position())
        hit = self.box_at(point)
        if hit >= 0:
            self.select(hit)
        else:
            self._drag_from = self._drag_to = point

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._drag_from is not None:
            self._drag_to = self.to_frame(event.position())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._drag_from is None:
            return
        a, b = self._drag_from, self.to_frame(event.position())
        self._drag_from = self._drag_to = None
        x1, x2 = sorted((a.x(), b.x()))
        y1, y2 = sorted((a.y(), b.y()))
        if x2 - x1 >= MIN_BOX_PX and y2 - y1 >= MIN_BOX_PX:
            self.add_box((x1, y1, x2, y2))
        else:
            self.select(-1)

    # -- painting --------------------------------------------------------------------------

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111318"))
        if self.image.isNull():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(self.image_rect(), self.image)
        for i, box in enumerate(self.boxes):
            colour = class_colour(box.class_id)
            rect = self.to_widget(box.xyxy)
            pen = QPen(colour, 4 if i == self.selected else 2)
            if i == self.selected:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(rect)
            paint_tag(painter, rect, f"{i + 1} {self.class_name(box.class_id)}", colour)
        if self._drag_from is not None and self._drag_to is not None:
            a, b = self._drag_from, self._drag_to
            painter.setPen(QPen(class_colour(self.new_class), 2, Qt.PenStyle.DotLine))
            painter.drawRect(
                self.to_widget(
                    (min(a.x(), b.x()), min(a.y(), b.y()), max(a.x(), b.x()), max(a.y(), b.y()))
                )
            )

    def class_name(self, class_id: int) -> str:
        return self.names[class_id] if 0 <= class_id < len(self.names) else f"class {class_id}"
