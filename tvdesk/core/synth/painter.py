"""Paint vehicles into the backdrop: shaded faces, glass, tyres, lamps, shadows and an id buffer.

The painter's algorithm (far to near) gives occlusion; every face is also filled into the id
buffer without anti-aliasing, so labels follow exactly the pixels a vehicle covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tvdesk.core.synth.geometry import RoadCamera
from tvdesk.core.synth.vehicles import GLASS, TYRE, Box3D, Vehicle

HEADLIGHT = (0.85, 0.95, 1.0)
TAILLIGHT = (0.15, 0.12, 0.9)
MAX_VEHICLES = 254  # ids fit in uint8, 0 is background


@dataclass
class VehicleLayers:
    """What painting the vehicles produced, in image coordinates."""

    albedo: np.ndarray  # uint8 BGR, backdrop with vehicles
    ids: np.ndarray  # uint8, vehicle index + 1 per pixel, 0 = background
    shadow: np.ndarray  # uint8, cast shadows on the ground
    beams: np.ndarray  # uint8, road lit by headlights
    depth: np.ndarray  # float32 metres per pixel (only when asked for, else empty)
    lights: list[tuple[float, float, float, tuple[float, float, float]]]  # x, y, radius, BGR
    class_ids: list[int]
    areas: list[int]  # pixels of each vehicle in the frame before nearer ones covered any


def paint_vehicles(
    backdrop: np.ndarray,
    camera: RoadCamera,
    vehicles: list[Vehicle],
    sun_angle: float,
    with_depth: bool,
) -> VehicleLayers:
    """Paint `vehicles` (any order) into a copy of `backdrop`."""
    h, w = backdrop.shape[:2]
    visible = sorted((v for v in vehicles if v.z > 2.0), key=lambda v: -v.z)[-MAX_VEHICLES:]
    layers = VehicleLayers(
        albedo=backdrop.copy(),
        ids=np.zeros((h, w), np.uint8),
        shadow=np.zeros((h, w), np.uint8),
        beams=np.zeros((h, w), np.uint8),
        depth=_ground_depth(camera) if with_depth else np.empty(0, np.float32),
        lights=[],
        class_ids=[],
        areas=[],
    )
    for v in visible:
        _shadow(layers.shadow, camera, v, sun_angle)
        if v.towards_camera:
            _beam(layers.beams, camera, v)
    for index, v in enumerate(visible, start=1):
        outline = _tyres(layers, camera, index, v.nearest_part())
        for part in v.parts():
            outline += _paint_box(layers, camera, part, index, sun_angle, with_depth)
        _lamps(layers, camera, v)
        layers.class_ids.append(v.class_id)
        layers.areas.append(_pixels_of(layers.ids, index, outline))
    layers.beams = cv2.GaussianBlur(layers.beams, (0, 0), sigmaX=3.0 * camera.scale)
    return layers


def _pixels_of(ids: np.ndarray, index: int, polygons: list[np.ndarray]) -> int:
    """How many pixels of the frame show vehicle `index`, counted right after it is painted:
    the union of its parts (which overlap one another: a cab in front of its load), inside the
    frame (a vehicle partly out of the frame is cut off, not hidden), before nearer vehicles
    cover any of it. Counted within the polygons' bounding box."""
    x, y, w, h = cv2.boundingRect(np.vstack(polygons) >> 4)
    x0, y0 = max(x, 0), max(y, 0)
    return int(np.count_nonzero(ids[y0 : y + h + 1, x0 : x + w + 1] == index))


def _ground_depth(camera: RoadCamera) -> np.ndarray:
    rows = np.arange(camera.height, dtype=np.float64) + 0.5
    depth = camera.ground_depth_of_row(rows).astype(np.float32)
    return np.repeat(depth[:, None], camera.width, axis=1)


def _px(camera: RoadCamera, x, y, z) -> np.ndarray:
    """Project world points to int32 pixel coordinates with 4 fractional bits."""
    pts = camera.project(np.asarray(x, float), np.asarray(y, float), np.asarray(z, float))
    return np.round(pts * 16).astype(np.int32)


def _faces(camera: RoadCamera, b: Box3D) -> list[tuple[str, np.ndarray]]:
    """The faces of a box that the camera sees, as (name, polygon) pairs."""
    # corners: bit 0 -> x1, bit 1 -> y1, bit 2 -> z1
    xs = np.array([b.x0, b.x1] * 4)
    ys = np.array([b.y0, b.y0, b.y1, b.y1] * 2)
    zs = np.array([b.z0] * 4 + [b.z1] * 4)
    c = _px(camera, xs, ys, zs)
    faces = []
    if camera.height_m > b.y1:
        faces.append(("top", c[[2, 3, 7, 6]]))
    if camera.offset_m < b.x0:
        faces.append(("left", c[[0, 2, 6, 4]]))
    elif camera.offset_m > b.x1:
        faces.append(("right", c[[1, 3, 7, 5]]))
    faces.append(("near", c[[0, 1, 3, 2]]))
    return faces


def _face_colour(b: Box3D, face: str, sun_angle: float) -> tuple[float, ...]:
    if b.glass_front and face == "near":
        return GLASS
    factor = {
        "top": 1.0,
        "near": 0.8,
        "left": 0.55 + 0.4 * (1 - sun_angle),
        "right": 0.55 + 0.4 * sun_angle,
    }[face]
    return tuple(c * factor for c in b.colour)


def _paint_box(
    layers: VehicleLayers,
    camera: RoadCamera,
    b: Box3D,
    index: int,
    sun_angle: float,
    with_depth: bool,
) -> list[np.ndarray]:
    """Paint the faces of `b` that the camera sees; returns their polygons."""
    polygons = []
    for face, poly in _faces(camera, b):
        cv2.fillPoly(layers.albedo, [poly], _face_colour(b, face, sun_angle), cv2.LINE_AA, shift=4)
        cv2.fillPoly(layers.ids, [poly], index, cv2.LINE_8, shift=4)
        if with_depth:
            cv2.fillPoly(
                layers.depth,
                [poly],
                b.z0 if face == "near" else (b.z0 + b.z1) / 2,
                cv2.LINE_8,
                shift=4,
            )
        polygons.append(poly)
        if face in ("left", "right") and b.glass_front:
            _window_band(layers.albedo, camera, b, face)
    return polygons


def _window_band(img: np.ndarray, camera: RoadCamera, b: Box3D, face: str) -> None:
    """Side windows of a cabin or bus: a glass band on the visible side."""
    x = b.x0 if face == "left" else b.x1
    y0 = b.y0 + 0.45 * (b.y1 - b.y0)
    y1 = b.y0 + 0.85 * (b.y1 - b.y0)
    poly = _px(camera, [x] * 4, [y0, y1, y1, y0], [b.z0 + 0.2, b.z0 + 0.2, b.z1 - 0.2, b.z1 - 0.2])
    cv2.fillPoly(img, [poly], GLASS, cv2.LINE_AA, shift=4)


def _tyres(layers: VehicleLayers, camera: RoadCamera, index: int, body: Box3D) -> list[np.ndarray]:
    """Tyres under the body's near end, part of the vehicle (and of its label)."""
    top = body.y0 + 0.1
    polygons = []
    for x in (body.x0 + 0.1, body.x1 - 0.35):
        poly = _px(camera, [x, x + 0.25, x + 0.25, x], [0.0, 0.0, top, top], [body.z0 + 0.4] * 4)
        cv2.fillPoly(layers.albedo, [poly], TYRE, cv2.LINE_AA, shift=4)
        cv2.fillPoly(layers.ids, [poly], index, cv2.LINE_8, shift=4)
        polygons.append(poly)
    return polygons


def _lamps(layers: VehicleLayers, camera: RoadCamera, v: Vehicle) -> None:
    """Head- or tail-lamps on the face towards the camera, drawn and recorded as light sources."""
    body = v.nearest_part()
    y = body.y0 + 0.45 * (body.y1 - body.y0)
    xs = [v.x] if v.kind == "motorcycle" else [body.x0 + 0.25, body.x1 - 0.25]
    colour = HEADLIGHT if v.towards_camera else TAILLIGHT
    radius_m = 0.13 if v.towards_camera else 0.11
    for x in xs:
        ((u, vv),) = camera.project(np.array([x]), np.array([y]), np.array([body.z0 - 0.01]))
        r = radius_m * camera.focal_px / body.z0
        cv2.circle(
            layers.albedo,
            (round(u), round(vv)),
            max(1, round(r)),
            tuple(c * 230 for c in colour),
            -1,
            cv2.LINE_AA,
        )
        layers.lights.append((float(u), float(vv), float(r), colour))


def _shadow(mask: np.ndarray, camera: RoadCamera, v: Vehicle, sun_angle: float) -> None:
    lean = (sun_angle - 0.5) * 1.6 * v.height
    x0, x1 = v.x - v.width / 2, v.x + v.width / 2
    xs = [
        x0 - lean * (lean < 0),
        x1 + lean * (lean > 0),
        x1 + lean * (lean > 0),
        x0 - lean * (lean < 0),
    ]
    poly = _px(
        camera, xs, [0.0] * 4, [v.z - 0.2, v.z - 0.2, v.z + v.length + 0.4, v.z + v.length + 0.4]
    )
    cv2.fillPoly(mask, [poly], 255, cv2.LINE_AA, shift=4)


def _beam(mask: np.ndarray, camera: RoadCamera, v: Vehicle) -> None:
    x0, x1 = v.x - v.width / 2 - 0.6, v.x + v.width / 2 + 0.6
    near = max(v.z - 16.0, 3.0)
    if near >= v.z:
        return
    poly = _px(camera, [x0, x1, x1 + 0.4, x0 - 0.4], [0.0] * 4, [v.z, v.z, near, near])
    cv2.fillPoly(mask, [poly], 170, cv2.LINE_AA, shift=4)
