"""The true crossings of a counting line in the synthetic world, to measure the counter against.

A vehicle's anchor is the road point under the middle of its end nearest the camera: what the
bottom-centre of its box shows. Vehicles keep their lane and never turn, so a crossing is the
step where that point passes from one side of the line to the other within the segment;
hidden vehicles count too (the truth is the road's, not what the camera could see).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tvdesk.core.synth.geometry import RoadCamera
from tvdesk.core.synth.vehicles import Vehicle
from tvdesk.core.tracking.counters import IN, OUT
from tvdesk.core.tracking.geometry import CountingLine

MIN_DEPTH_M = 1.0  # points nearer than this are behind the image plane: not projected

Identity = tuple  # what stays the same over a vehicle's life on the road


def identity(vehicle: Vehicle) -> Identity:
    """A vehicle's identity: its class, lane, size and colour never change as it drives."""
    return (
        vehicle.kind,
        vehicle.lane,
        vehicle.length,
        vehicle.width,
        vehicle.height,
        vehicle.colour,
    )


def ground_anchor(camera: RoadCamera, vehicle: Vehicle) -> np.ndarray | None:
    """The image point (x, y) of the road under the vehicle's nearest end, if in front."""
    if vehicle.z < MIN_DEPTH_M:
        return None
    return camera.project(np.array(vehicle.x), np.array(0.0), np.array(vehicle.z))


@dataclass(frozen=True)
class TrueCrossing:
    """A vehicle that crossed the line: its class, direction and anchor just after (px)."""

    class_name: str
    direction: str
    x: float
    y: float

    def seen_in(self, boxes: np.ndarray, tolerance_px: float = 12.0) -> bool:
        """Whether one of a frame's labelled boxes (n, 4) stands on this anchor: the vehicle
        was visible down to the road as it crossed, not hidden or cut by a nearer one."""
        over = (boxes[:, 0] <= self.x) & (self.x <= boxes[:, 2])
        return bool((over & (np.abs(boxes[:, 3] - self.y) <= tolerance_px)).any())


class TrueLineCounts:
    """Counts the synthetic vehicles that cross `line`, by class and direction."""

    def __init__(self, line: CountingLine, camera: RoadCamera) -> None:
        self.line = line
        self.camera = camera
        self.totals: dict[tuple[str, str], int] = {}  # (class name, direction) -> count
        self._last: dict[Identity, np.ndarray] = {}

    def update(self, vehicles: Iterable[Vehicle]) -> list[TrueCrossing]:
        """The vehicles that crossed since the last call."""
        crossed, now = [], {}
        for vehicle in vehicles:
            point = ground_anchor(self.camera, vehicle)
            if point is None:
                continue
            key = identity(vehicle)
            now[key] = point
            before = self._last.get(key)
            direction = None if before is None else self._crossing(before, point)
            if direction is not None:
                crossed.append(TrueCrossing(vehicle.kind, direction, *map(float, point)))
                self.totals[(vehicle.kind, direction)] = (
                    self.totals.get((vehicle.kind, direction), 0) + 1
                )
        self._last = now
        return crossed

    def _crossing(self, before: np.ndarray, after: np.ndarray) -> str | None:
        points = np.stack([before, after])
        d0, d1 = self.line.signed_distance(points)
        if (d0 < 0) == (d1 < 0):
            return None
        share = d0 / (d0 - d1)  # where between the two points the line is crossed
        along = self.line.along((before + share * (after - before))[None, :])[0]
        if not 0.0 <= along <= 1.0:
            return None
        return IN if d1 >= 0 else OUT
