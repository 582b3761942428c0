"""Drawing and editing counting lines and zones with the mouse, in frame pixels.

The video widget hands it its mouse and key events already mapped to the frame; it keeps the
drawing in progress and says what the operator made. Modes: "line" (press at the start and
release at the end, or click the start and then the end), "zone" (click each corner; double-
click, Enter or a click on the first corner closes it), "edit" (drag an end or a corner to move
it; click a line or zone to select it, Delete removes it). Esc cancels what is being drawn or
dragged, and leaves the mode when nothing is.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from tvdesk.core.store import CountingShape
from tvdesk.core.store.counting_shape import LINE, ZONE

Point = tuple[float, float]
OFF, EDIT = "", "edit"
MODES = (OFF, LINE, ZONE, EDIT)
FINISH_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
DELETE_KEYS = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)


def _distance(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    share = 0.0 if length2 == 0 else ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2
    share = min(1.0, max(0.0, share))
    return _distance(p, (a[0] + share * dx, a[1] + share * dy))


def near_shape(shape: CountingShape, p: Point, tolerance: float) -> bool:
    """Whether `p` is on (or, for a zone, inside) the shape."""
    points = shape.points
    edges = list(zip(points, points[1:] + (points[:1] if shape.kind == ZONE else ()), strict=False))
    if any(_segment_distance(p, a, b) <= tolerance for a, b in edges):
        return True
    return shape.kind == ZONE and bool(shape.geometry().contains(np.array([p]))[0])


class ShapeEditor(QObject):
    """The operator's drawing on the video; the stored shapes come in through `set_shapes`.

    Signals:
        line_drawn(object): a new line, (start, end) in frame pixels.
        zone_drawn(object): a new zone, its corners in order.
        shape_moved(int, object): the id of a line or zone and its new points.
        delete_requested(int): the id of the line or zone to delete.
        mode_changed(str): "", "line", "zone" or "edit".
        changed(): what is shown changed (repaint).
    """

    line_drawn = Signal(object)
    zone_drawn = Signal(object)
    shape_moved = Signal(int, object)
    delete_requested = Signal(int)
    mode_changed = Signal(str)
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.mode = OFF
        self.shapes: list[CountingShape] = []
        self.draft: list[Point] = []  # the line or zone being drawn, the mouse's point last
        self.selected: int | None = None
        self._pressed_at: Point | None = None
        self._drag: tuple[int, int, list[Point]] | None = None  # shape id, vertex, points
        self._dropped: tuple[int, tuple[Point, ...]] | None = None  # moved, not yet stored

    # -- what the widget sets and shows ----------------------------------------------------

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"no drawing mode {mode!r}")
        self._cancel()
        if mode != self.mode:
            self.mode = mode
            self.mode_changed.emit(mode)
        self.changed.emit()

    def set_shapes(self, shapes: list[CountingShape]) -> None:
        self.shapes = list(shapes)
        if self.selected not in {s.id for s in self.shapes}:
            self.selected = None
        self._drag = self._dropped = None
        self.changed.emit()

    def shown(self) -> list[tuple[CountingShape, tuple[Point, ...]]]:
        """Each stored shape with the points to draw (a dragged one where it is being moved)."""
        moved = dict([self._dropped] if self._dropped else [])
        if self._drag is not None:
            moved[self._drag[0]] = tuple(self._drag[2])
        return [(s, moved.get(s.id, s.points)) for s in self.shapes]

    # -- events, in frame pixels; `tolerance` is how near counts as on a point --------------

    def press(self, p: Point, tolerance: float) -> None:
        if self.mode == LINE:
            self._press_line(p)
        elif self.mode == ZONE:
            self._press_zone(p, tolerance)
        elif self.mode == EDIT:
            self._press_edit(p, tolerance)
        self.changed.emit()

    def move(self, p: Point) -> None:
        if self.draft:
            self.draft[-1] = p
        elif self._drag is not None:
            self._drag[2][self._drag[1]] = p
        else:
            return
        self.changed.emit()

    def release(self, p: Point, tolerance: float) -> None:
        pressed, self._pressed_at = self._pressed_at, None
        if self.mode == LINE and len(self.draft) == 2 and pressed is not None:
            if _distance(pressed, p) > tolerance:  # dragged: the line ends here
                self._finish_line(p)
        elif self._drag is not None:
            self._finish_drag()
        self.changed.emit()

    def double_click(self, p: Point) -> None:
        if self.mode == ZONE and self.draft:
            self._finish_zone()
            self.changed.emit()

    def key(self, key: Qt.Key) -> bool:
        """Handle Esc, Enter and Delete; False for other keys."""
        if key == Qt.Key.Key_Escape:
            if self.draft or self._drag is not None:
                self._cancel()
                self.changed.emit()
            else:
                self.set_mode(OFF)
            return True
        if key in FINISH_KEYS and self.mode == ZONE and self.draft:
            self._finish_zone()
            self.changed.emit()
            return True
        if key in DELETE_KEYS and self.mode == EDIT and self.selected is not None:
            self.delete_requested.emit(self.selected)
            return True
        return False

    # -- the modes ---------------------------------------------------------------------------

    def _press_line(self, p: Point) -> None:
        if self.draft:  # the second click of click-and-click
            self._finish_line(p)
            return
        self.draft = [p, p]
        self._pressed_at = p

    def _finish_line(self, end: Point) -> None:
        start = self.draft[0]
        self.draft = []
        self.line_drawn.emit((start, end))

    def _press_zone(self, p: Point, tolerance: float) -> None:
        corners = self.draft[:-1]
        if len(corners) >= 3 and _distance(corners[0], p) <= tolerance:
            self._finish_zone()
            return
        self.draft = [*corners, p, p]  # the new corner, and the mouse's point after it

    def _finish_zone(self) -> None:
        corners = self.draft[:-1]
        while len(corners) > 1 and corners[-1] == corners[-2]:
            corners.pop()  # a double-click's second press on the last corner
        self.draft = []
        self.zone_drawn.emit(tuple(corners))

    def _press_edit(self, p: Point, tolerance: float) -> None:
        for shape in reversed(self.shapes):
            for index, vertex in enumerate(shape.points):
                if _distance(vertex, p) <= tolerance:
                    self.selected = shape.id
                    self._drag = (shape.id, index, list(shape.points))
                    return
        hit = next((s for s in reversed(self.shapes) if near_shape(s, p, tolerance)), None)
        self.selected = hit.id if hit is not None else None

    def _finish_drag(self) -> None:
        """Report the move; the shape shows where it was dropped until the store answers."""
        shape_id, _, points = self._drag
        self._drag = None
        stored = next(s for s in self.shapes if s.id == shape_id)
        if tuple(points) != stored.points:  # else a click on a corner: nothing moved
            self._dropped = (shape_id, tuple(points))
            self.shape_moved.emit(shape_id, tuple(points))

    def _cancel(self) -> None:
        self.draft, self._drag, self._pressed_at = [], None, None
