"""Counting lines and zones drawn on the frame, checked when they are made.

Coordinates are frame pixels, y down. A line's "in" direction is a crossing from the side on
the left of the line (seen walking from its start to its end, on screen) to the side on its
right: a line drawn left to right counts vehicles moving down the frame as "in".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]


def _finite(points: tuple[Point, ...], what: str) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2 or not np.isfinite(array).all():
        raise ValueError(f"{what} needs points as finite (x, y) pixel pairs, got {points!r}")
    return array


@dataclass(frozen=True)
class CountingLine:
    """A segment from (x1, y1) to (x2, y2) that counts tracks crossing it, by direction."""

    id: str
    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        start, end = _finite(((self.x1, self.y1), (self.x2, self.y2)), f"line {self.id!r}")
        if np.hypot(*(end - start)) < 1.0:
            raise ValueError(
                f"line {self.id!r} has zero length ({self.x1}, {self.y1}) to ({self.x2}, "
                f"{self.y2}): draw it with two different end points"
            )

    @property
    def length(self) -> float:
        return float(np.hypot(self.x2 - self.x1, self.y2 - self.y1))

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Pixels from the line to each point (n, 2): positive on its right ("in") side."""
        dx, dy = self.x2 - self.x1, self.y2 - self.y1
        cross = dx * (points[:, 1] - self.y1) - dy * (points[:, 0] - self.x1)
        return cross / np.hypot(dx, dy)

    def along(self, points: np.ndarray) -> np.ndarray:
        """Where each point falls along the segment: 0 at its start, 1 at its end."""
        dx, dy = self.x2 - self.x1, self.y2 - self.y1
        return ((points[:, 0] - self.x1) * dx + (points[:, 1] - self.y1) * dy) / (dx * dx + dy * dy)


@dataclass(frozen=True)
class Zone:
    """A simple polygon (3 or more corners, edges that do not cross) that tracks dwell in."""

    id: str
    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        corners = _finite(self.points, f"zone {self.id!r}")
        if len(corners) < 3:
            raise ValueError(
                f"zone {self.id!r} has {len(corners)} point(s): a zone needs 3 or more corners"
            )
        crossing = _crossing_edges(corners)
        if crossing is not None:
            i, j = crossing
            raise ValueError(
                f"zone {self.id!r} crosses itself (edge {i + 1} crosses edge {j + 1}): "
                "list its corners in order around the zone"
            )
        if abs(_area(corners)) < 1.0:
            raise ValueError(f"zone {self.id!r} has no area: its corners lie on one line")

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Which points (n, 2) lie inside the zone (even-odd rule)."""
        corners = np.asarray(self.points, dtype=np.float64)
        x, y = points[:, :1], points[:, 1:]
        x0, y0 = corners[:, 0], corners[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        spans = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        return np.count_nonzero(spans & (x < x_at), axis=1) % 2 == 1


def _area(corners: np.ndarray) -> float:
    x, y = corners[:, 0], corners[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _crossing_edges(corners: np.ndarray) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges that intersect, if any."""
    n = len(corners)
    edges = [(corners[i], corners[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # they share the first corner
            if _segments_cross(*edges[i], *edges[j]):
                return i, j
    return None


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    """Whether segments ab and cd touch or cross."""

    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    def within(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> bool:
        return bool(np.all(np.minimum(p, q) <= r) and np.all(r <= np.maximum(p, q)))

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if o1 * o2 < 0 and o3 * o4 < 0:
        return True
    touching = ((o1, a, b, c), (o2, a, b, d), (o3, c, d, a), (o4, c, d, b))
    return any(o == 0 and within(p, q, r) for o, p, q, r in touching)
