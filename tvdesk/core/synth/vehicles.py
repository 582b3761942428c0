"""Vehicles of the synthetic world: their shapes, colours, and how traffic moves along the lanes.

Each vehicle is one or more axis-aligned 3D boxes (body, cabin, cargo, rider) so that the
renderer can project them with true perspective and occlusion.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tvdesk.core.synth.geometry import RoadCamera

CLASS_NAMES: tuple[str, ...] = ("car", "truck", "bus", "motorcycle")
CLASS_SHARE = np.array([0.58, 0.16, 0.10, 0.16])

# length, width, height (m) and speed range (m/s) per class
_DIMENSIONS = {
    "car": ((3.9, 4.8), (1.7, 1.9), (1.35, 1.6), (11.0, 20.0)),
    "truck": ((7.5, 10.0), (2.3, 2.5), (3.0, 3.8), (8.0, 14.0)),
    "bus": ((10.5, 12.5), (2.5, 2.55), (3.0, 3.3), (8.0, 13.0)),
    "motorcycle": ((1.9, 2.2), (0.7, 0.8), (1.55, 1.7), (12.0, 22.0)),
}

_PALETTES = {
    "car": [
        (235, 235, 235),
        (30, 30, 30),
        (170, 170, 175),
        (40, 40, 170),
        (150, 60, 20),
        (40, 110, 40),
        (60, 170, 210),
        (90, 90, 90),
        (20, 20, 110),
        (190, 140, 60),
    ],
    "truck": [(230, 230, 230), (40, 80, 160), (60, 60, 60), (30, 120, 200), (200, 200, 200)],
    "bus": [(40, 190, 230), (40, 40, 190), (180, 100, 30), (225, 225, 225)],
    "motorcycle": [(25, 25, 25), (30, 30, 160), (160, 80, 20), (120, 120, 120)],
}
GLASS = (70, 55, 45)
TYRE = (22, 22, 22)
RIDER = (45, 40, 35)


@dataclass(frozen=True)
class Box3D:
    """One solid part of a vehicle: x/y/z ranges in metres and its BGR albedo."""

    x0: float
    x1: float
    y0: float
    y1: float
    z0: float
    z1: float
    colour: tuple[int, int, int]
    glass_front: bool = False  # the face towards the camera is a window (cabin, bus)


@dataclass(frozen=True)
class Vehicle:
    """A vehicle on a lane; `z` is the distance of its end nearest the camera."""

    kind: str
    lane: int
    x: float
    z: float
    length: float
    width: float
    height: float
    speed: float
    colour: tuple[int, int, int]
    towards_camera: bool

    @property
    def class_id(self) -> int:
        return CLASS_NAMES.index(self.kind)

    def parts(self) -> list[Box3D]:
        """The boxes that make up this vehicle, in the order they must be painted."""
        x0, x1 = self.x - self.width / 2, self.x + self.width / 2
        z0, z1, h, c = self.z, self.z + self.length, self.height, self.colour
        front_first = self.towards_camera  # we see the front of oncoming vehicles
        if self.kind == "car":
            cabin_z = (z0 + 0.9, z1 - 1.1) if front_first else (z0 + 1.0, z1 - 0.8)
            inset = 0.12 * self.width
            return [
                Box3D(x0, x1, 0.25, h * 0.6, z0, z1, c),
                Box3D(x0 + inset, x1 - inset, h * 0.6, h, *cabin_z, c, glass_front=True),
            ]
        if self.kind == "truck":
            cab_len = 2.3
            if front_first:
                cargo = Box3D(x0, x1, 0.5, h, z0 + cab_len + 0.2, z1, _lighter(c))
                cab = Box3D(
                    x0 + 0.05, x1 - 0.05, 0.4, h * 0.78, z0, z0 + cab_len, c, glass_front=True
                )
                return [cargo, cab]
            cab = Box3D(x0 + 0.05, x1 - 0.05, 0.4, h * 0.78, z1 - cab_len, z1, c)
            return [cab, Box3D(x0, x1, 0.5, h, z0, z1 - cab_len - 0.2, _lighter(c))]
        if self.kind == "bus":
            return [Box3D(x0, x1, 0.35, h, z0, z1, c, glass_front=front_first)]
        rider_z = z0 + 0.7 if front_first else z0 + 0.8
        return [
            Box3D(x0 + 0.1, x1 - 0.1, 0.15, 0.95, z0, z1, c),
            Box3D(x0 + 0.05, x1 - 0.05, 0.95, h, rider_z, rider_z + 0.55, RIDER),
        ]

    def nearest_part(self) -> Box3D:
        """The part whose face is closest to the camera: it carries the lamps and tyres."""
        return min(self.parts(), key=lambda b: (b.z0, b.y0))

    def moved(self, dt: float) -> Vehicle:
        step = self.speed * dt
        return replace(self, z=self.z - step if self.towards_camera else self.z + step)


def _lighter(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(min(255, int(v * 0.6 + 100)) for v in colour)  # type: ignore[return-value]


def random_vehicle(rng: np.random.Generator, camera: RoadCamera, lane: int, z: float) -> Vehicle:
    """A vehicle of a random class, size and colour placed at distance z on a lane."""
    kind = CLASS_NAMES[int(rng.choice(len(CLASS_NAMES), p=CLASS_SHARE))]
    (l0, l1), (w0, w1), (h0, h1), (s0, s1) = _DIMENSIONS[kind]
    palette = _PALETTES[kind]
    colour = palette[int(rng.integers(len(palette)))]
    jitter = rng.integers(-18, 19, size=3)
    colour = tuple(int(np.clip(v + j, 0, 255)) for v, j in zip(colour, jitter, strict=True))
    lateral = float(rng.uniform(-0.35, 0.35))
    return Vehicle(
        kind=kind,
        lane=lane,
        x=camera.lane_centre_x(lane) + lateral,
        z=z,
        length=float(rng.uniform(l0, l1)),
        width=float(rng.uniform(w0, w1)),
        height=float(rng.uniform(h0, h1)),
        speed=float(rng.uniform(s0, s1)),
        colour=colour,  # type: ignore[arg-type]
        towards_camera=camera.lane_heads_towards_camera(lane),
    )


def sample_traffic(rng: np.random.Generator, camera: RoadCamera, density: float) -> list[Vehicle]:
    """An independent snapshot of traffic: gaps along each lane drawn from the density."""
    vehicles: list[Vehicle] = []
    mean_gap = 55.0 - 40.0 * float(np.clip(density, 0.0, 1.0))
    for lane in range(camera.lanes):
        z = camera.near_m - 6.0 + float(rng.uniform(0, mean_gap))
        while z < camera.far_m:
            v = random_vehicle(rng, camera, lane, z)
            vehicles.append(v)
            z += v.length + 3.0 + float(rng.exponential(mean_gap))
    return vehicles


def advance_traffic(
    vehicles: list[Vehicle],
    rng: np.random.Generator,
    camera: RoadCamera,
    dt: float,
    density: float,
) -> list[Vehicle]:
    """Move traffic forward by dt seconds: keep distance, leave at the ends, enter at random."""
    moved: list[Vehicle] = []
    for lane in range(camera.lanes):
        in_lane = sorted((v for v in vehicles if v.lane == lane), key=lambda v: v.z)
        if camera.lane_heads_towards_camera(lane):
            moved += _follow(in_lane, dt, leader_is_nearer=True)
        else:
            moved += _follow(in_lane[::-1], dt, leader_is_nearer=False)
    moved = [v for v in moved if camera.near_m - 14.0 < v.z < camera.far_m + 10.0]
    rate = (0.08 + 0.35 * float(np.clip(density, 0.0, 1.0))) * dt  # arrivals per lane per dt
    for lane in range(camera.lanes):
        if rng.random() >= rate:
            continue
        towards = camera.lane_heads_towards_camera(lane)
        entry = camera.far_m + 5.0 if towards else camera.near_m - 13.0
        newcomer = random_vehicle(rng, camera, lane, entry)
        if all(abs(v.z - entry) > 14.0 for v in moved if v.lane == lane):
            moved.append(newcomer)
    return moved


def _follow(ordered: list[Vehicle], dt: float, leader_is_nearer: bool) -> list[Vehicle]:
    """Car-following along one lane; `ordered` starts with the vehicle at the front."""
    out: list[Vehicle] = []
    for v in ordered:
        nxt = v.moved(dt)
        if out:
            leader = out[-1]
            if leader_is_nearer:
                min_z = leader.z + leader.length + 4.0
                if nxt.z < min_z:
                    nxt = replace(nxt, z=max(min_z, nxt.z), speed=min(v.speed, leader.speed))
            else:
                max_z = leader.z - v.length - 4.0
                if nxt.z > max_z:
                    nxt = replace(nxt, z=min(max_z, nxt.z), speed=min(v.speed, leader.speed))
        out.append(nxt)
    return out
