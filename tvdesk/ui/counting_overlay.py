"""Painting counting on the video: each line with an arrow to its "in" side and its running
in/out totals, each zone with its occupancy, the tracks' trails, and what is being drawn.

Pure painting on the GUI thread from the frame's `CountingSnapshot` and the editor's shapes:
nothing here computes counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF

from tvdesk.core.session.counting import CountingSnapshot
from tvdesk.core.store import CountingShape
from tvdesk.core.store.counting_shape import LINE

Point = tuple[float, float]
LINE_COLOUR = QColor("#ffbe6f")
ZONE_COLOUR = QColor("#62a0ea")
SELECTED_COLOUR = QColor("#ffffff")
DRAFT_COLOUR = QColor("#f66151")
ZONE_FILL_ALPHA = 50
ARROW_PX = 22.0
HANDLE_PX = 4.0
TAG_BACKGROUND = QColor(0, 0, 0, 170)


@dataclass(frozen=True)
class FrameMapping:
    """Frame pixels to widget pixels: where the frame is drawn and at what scale."""

    target: QRectF
    scale: float

    def point(self, p: Point) -> QPointF:
        return QPointF(self.target.x() + p[0] * self.scale, self.target.y() + p[1] * self.scale)

    def frame_point(self, widget: QPointF) -> Point:
        return (
            (widget.x() - self.target.x()) / self.scale,
            (widget.y() - self.target.y()) / self.scale,
        )


def paint_shapes(
    painter: QPainter,
    mapping: FrameMapping,
    shapes: Sequence[tuple[CountingShape, tuple[Point, ...]]],
    snapshot: CountingSnapshot | None,
    selected: int | None = None,
    handles: bool = False,
) -> None:
    """Every line and zone at its points, with its totals or occupancy from `snapshot`."""
    for shape, points in shapes:
        colour = SELECTED_COLOUR if shape.id == selected else None
        if shape.kind == LINE:
            totals = snapshot.directions(shape.name) if snapshot else {}
            paint_line(painter, mapping, shape.name, points, totals, colour or LINE_COLOUR)
        else:
            inside = snapshot.occupancy(shape.name) if snapshot else 0
            paint_zone(painter, mapping, shape.name, points, inside, colour or ZONE_COLOUR)
        if handles:
            _paint_handles(painter, mapping, points, colour or LINE_COLOUR)


def paint_line(
    painter: QPainter,
    mapping: FrameMapping,
    name: str,
    points: tuple[Point, ...],
    totals: dict[str, int],
    colour: QColor,
) -> None:
    """The line, an arrow from its middle to its "in" side (right of start -> end, y down)
    labelled with the in total, and its out total on the other side."""
    start, end = mapping.point(points[0]), mapping.point(points[1])
    painter.setPen(QPen(colour, 2.5))
    painter.drawLine(start, end)
    dx, dy = end.x() - start.x(), end.y() - start.y()
    length = math.hypot(dx, dy) or 1.0
    normal = QPointF(-dy / length, dx / length)  # toward the "in" side
    middle = (start + end) / 2
    tip = middle + normal * ARROW_PX
    painter.drawLine(middle, tip)
    along = QPointF(dx / length, dy / length) * (ARROW_PX / 3)
    back = tip - normal * (ARROW_PX / 3)
    painter.setBrush(colour)
    painter.drawPolygon(QPolygonF([tip, back + along, back - along]))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    paint_text(painter, tip + normal * 4, f"in {totals.get('in', 0)}", colour)
    paint_text(painter, middle - normal * (ARROW_PX + 4), f"out {totals.get('out', 0)}", colour)
    paint_text(painter, start, name, colour)


def paint_zone(
    painter: QPainter,
    mapping: FrameMapping,
    name: str,
    points: tuple[Point, ...],
    inside: int,
    colour: QColor,
) -> None:
    """The zone, lightly filled, named with the tracks in it now."""
    polygon = QPolygonF([mapping.point(p) for p in points])
    fill = QColor(colour)
    fill.setAlpha(ZONE_FILL_ALPHA)
    painter.setPen(QPen(colour, 2))
    painter.setBrush(fill)
    painter.drawPolygon(polygon)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    paint_text(painter, polygon.boundingRect().topLeft(), f"{name}: {inside} inside", colour)


def paint_trails(
    painter: QPainter, mapping: FrameMapping, snapshot: CountingSnapshot, colours
) -> None:
    """Each track's recent anchors as a thin line in its class colour (`colours(class_id)`)."""
    tracks = snapshot.tracks
    for track_id, class_id in zip(tracks.ids.tolist(), tracks.class_ids.tolist(), strict=True):
        trail = snapshot.trails.get(track_id, ())
        if len(trail) > 1:
            painter.setPen(QPen(colours(class_id), 1.5))
            painter.drawPolyline(QPolygonF([mapping.point(p) for p in trail]))


def paint_draft(painter: QPainter, mapping: FrameMapping, points: Sequence[Point]) -> None:
    """What is being drawn: its points joined, the last one following the mouse."""
    if not points:
        return
    pen = QPen(DRAFT_COLOUR, 2, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.drawPolyline(QPolygonF([mapping.point(p) for p in points]))
    _paint_handles(painter, mapping, tuple(points[:-1]) or tuple(points), DRAFT_COLOUR)


def paint_text(painter: QPainter, at: QPointF, text: str, colour: QColor) -> None:
    """`text` in `colour` on a dark tag whose top-left is `at`."""
    metrics = painter.fontMetrics()
    tag = QRectF(at.x(), at.y(), metrics.horizontalAdvance(text) + 6, metrics.height())
    painter.fillRect(tag, TAG_BACKGROUND)
    painter.setPen(colour)
    painter.drawText(tag.topLeft() + QPointF(3, metrics.ascent()), text)


def _paint_handles(
    painter: QPainter, mapping: FrameMapping, points: tuple[Point, ...], colour: QColor
) -> None:
    painter.setPen(QPen(colour, 1.5))
    for p in points:
        painter.drawEllipse(mapping.point(p), HANDLE_PX, HANDLE_PX)
