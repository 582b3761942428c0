"""A camera's counting line or zone as the store keeps it: its kind, name and points in frame
pixels, checked when it is made (a line of zero length or a zone of fewer than 3 corners is a
`ValueError` with a sentence saying what to draw instead)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tvdesk.core.tracking.geometry import CountingLine, Zone

LINE, ZONE = "line", "zone"
KINDS = (LINE, ZONE)
IN_SIDE = "right"  # a line counts "in" the tracks that cross to its right, seen from its start

Point = tuple[float, float]


def as_points(values: Iterable[Sequence[float]]) -> tuple[Point, ...]:
    """(x, y) pairs as a tuple of float pairs (from a list, JSON or numpy)."""
    return tuple((float(x), float(y)) for x, y in values)


@dataclass(frozen=True)
class CountingShape:
    """A counting line (2 points, start then end) or zone (3 or more corners, in order) of one
    camera; `name` is its counter id in the counts ("line-1", "north"...).

    A line's `in_side` records the direction convention its counts were made with: "in" is a
    crossing to the right of the line as drawn from its start to its end (on screen, y down: a
    line drawn left to right counts the vehicles moving down the frame as "in")."""

    camera_id: int
    kind: str
    name: str
    points: tuple[Point, ...]
    in_side: str = IN_SIDE
    id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a counter is a line or a zone, not {self.kind!r}")
        if not self.name.strip():
            raise ValueError("a counting line or zone needs a name")
        object.__setattr__(self, "points", as_points(self.points))
        if self.kind == LINE and len(self.points) != 2:
            raise ValueError(
                f"line {self.name!r} has {len(self.points)} point(s): a line has 2 (start, end)"
            )
        self.geometry()  # raises for a line of zero length, a zone that crosses itself...

    def geometry(self) -> CountingLine | Zone:
        """The line or zone that counts, named after this shape."""
        if self.kind == LINE:
            (x1, y1), (x2, y2) = self.points
            return CountingLine(self.name, x1, y1, x2, y2)
        return Zone(self.name, self.points)

    def same_place(self, kind: str, points: Iterable[Sequence[float]]) -> bool:
        """Whether this shape is a `kind` with these very points (to not store it twice)."""
        return self.kind == kind and self.points == as_points(points)
