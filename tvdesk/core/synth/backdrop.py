"""The static part of the scene: sky, skyline, verges, the road with its markings, street lights.

Built once per camera and site seed. Everything here is drawn in 8-bit with OpenCV's bit-exact
integer routines, so the same seed gives byte-identical images on every machine (the base
dataset is checked against its DVC hash).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tvdesk.core.synth.geometry import RoadCamera

SKY_TOP = (225, 185, 140)
SKY_HORIZON = (235, 220, 205)
GRASS = (70, 125, 85)
ASPHALT = (105, 102, 100)
MARKING = (225, 225, 225)
CENTRE_LINE = (40, 190, 225)
POLE = (90, 90, 95)
LAMP_HEIGHT_M = 9.0
LAMP_SPACING_M = 32.0


@dataclass(frozen=True)
class Backdrop:
    """Static albedo (uint8 BGR), per-row ground depth, and where the street lamps are."""

    albedo: np.ndarray
    row_depth: np.ndarray  # (H,) metres of the ground at each row; inf above the horizon
    sky_rows: int
    lamp_points: np.ndarray  # (n, 2) image points of the lamp heads
    lamp_pools: np.ndarray  # (H, W) float32 in [0, 1]: road lit by the lamps
    cloud_field: np.ndarray  # (H, 2W) float32 in [0, 1]: scrolled to move cloud shade


def build_backdrop(camera: RoadCamera, site_seed: int) -> Backdrop:
    """Draw the site seen by `camera`; `site_seed` places buildings and the road texture."""
    rng = np.random.default_rng(site_seed)
    h, w = camera.height, camera.width
    img = np.empty((h, w, 3), np.uint8)
    sky_rows = int(np.ceil(camera.horizon_y))
    _sky(img, sky_rows)
    img[sky_rows:] = GRASS
    _texture(img, rng, sky_rows, amplitude=18)
    _skyline(img, rng, camera, sky_rows)
    _road(img, rng, camera)
    lamps = _street_lights(img, camera)
    rows = np.arange(h, dtype=np.float64) + 0.5
    return Backdrop(
        albedo=img,
        row_depth=camera.ground_depth_of_row(rows),
        sky_rows=sky_rows,
        lamp_points=lamps,
        lamp_pools=_lamp_pools(camera),
        cloud_field=_cloud_field(rng, h, 2 * w),
    )


def _sky(img: np.ndarray, sky_rows: int) -> None:
    for c in range(3):
        img[:sky_rows, :, c] = np.linspace(SKY_TOP[c], SKY_HORIZON[c], sky_rows).astype(np.uint8)[
            :, None
        ]


def _texture(img: np.ndarray, rng: np.random.Generator, from_row: int, amplitude: int) -> None:
    h, w = img.shape[:2]
    grain = rng.integers(0, 2 * amplitude + 1, size=(h - from_row, w), dtype=np.int16)
    grain = cv2.GaussianBlur(grain.astype(np.uint8), (3, 3), 0).astype(np.int16) - amplitude
    region = img[from_row:].astype(np.int16) + grain[:, :, None]
    img[from_row:] = np.clip(region, 0, 255).astype(np.uint8)


def _skyline(img: np.ndarray, rng: np.random.Generator, camera: RoadCamera, sky_rows: int) -> None:
    """Buildings and trees on the horizon, far enough to be part of the backdrop."""
    w, s = camera.width, camera.scale
    x = 0
    while x < w:
        bw = int(rng.integers(14, 60) * s)
        bh = int(rng.integers(6, 34) * s)
        if rng.random() < 0.45:
            tone = int(rng.integers(50, 90))
            centre = (x + bw // 2, sky_rows)
            cv2.ellipse(
                img, centre, (bw // 2, bh), 0, 180, 360, (tone, tone + 40, tone), -1, cv2.LINE_AA
            )
        else:
            tone = int(rng.integers(110, 190))
            colour = (tone, tone - int(rng.integers(0, 25)), tone - int(rng.integers(0, 40)))
            cv2.rectangle(img, (x, sky_rows - bh), (x + bw, sky_rows), colour, -1)
            for wy in range(sky_rows - bh + 3, sky_rows - 2, max(3, int(5 * s))):
                cv2.line(img, (x + 2, wy), (x + bw - 2, wy), (tone // 2,) * 3, 1)
        x += bw + int(rng.integers(0, 12) * s)


def _ground_quad(camera: RoadCamera, x0: float, x1: float, z0: float, z1: float) -> np.ndarray:
    xs = np.array([x0, x1, x1, x0])
    zs = np.array([z0, z0, z1, z1])
    pts = camera.project(xs, np.zeros(4), zs)
    return np.round(pts * 16).astype(np.int32)  # 4 fractional bits for cv2's shift


def _road(img: np.ndarray, rng: np.random.Generator, camera: RoadCamera) -> None:
    half = camera.road_half_width_m
    near, far = 2.0, 2000.0
    tarmac = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(
        tarmac,
        [_ground_quad(camera, -half - 0.8, half + 0.8, near, far)],
        255,
        cv2.LINE_AA,
        shift=4,
    )
    road = np.empty_like(img)
    road[:] = ASPHALT
    _texture(road, rng, 0, amplitude=10)
    alpha = tarmac.astype(np.uint16)[:, :, None]
    img[:] = ((road * alpha + img * (255 - alpha) + 127) // 255).astype(np.uint8)

    def paint(x0: float, x1: float, z0: float, z1: float, colour: tuple[int, int, int]) -> None:
        cv2.fillPoly(img, [_ground_quad(camera, x0, x1, z0, z1)], colour, cv2.LINE_AA, shift=4)

    for edge in (-half, half):
        paint(edge - 0.15, edge + 0.15, near, far, MARKING)
    centre = camera.lane_centre_x(camera.lanes // 2) - 1.8
    paint(centre - 0.25, centre - 0.1, near, far, CENTRE_LINE)
    paint(centre + 0.1, centre + 0.25, near, far, CENTRE_LINE)
    for lane in range(1, camera.lanes):
        x = camera.lane_centre_x(lane) - 1.8
        if abs(x - centre) < 0.5:
            continue
        z = near
        while z < 400.0:
            paint(x - 0.08, x + 0.08, z, z + 3.0, MARKING)
            z += 12.0


def _lamp_positions(camera: RoadCamera) -> list[tuple[float, float]]:
    side = camera.road_half_width_m + 1.6
    zs = np.arange(14.0, camera.far_m, LAMP_SPACING_M)
    return [(x, float(z)) for z in zs for x in (-side, side)]


def _street_lights(img: np.ndarray, camera: RoadCamera) -> np.ndarray:
    heads = []
    for x, z in _lamp_positions(camera):
        arm = -1.8 if x > 0 else 1.8
        base, top, head = camera.project(
            np.array([x, x, x + arm]),
            np.array([0.0, LAMP_HEIGHT_M, LAMP_HEIGHT_M]),
            np.array([z, z, z]),
        )
        thickness = max(1, round(0.25 * camera.focal_px / z))
        p = [tuple(np.round(q).astype(int)) for q in (base, top, head)]
        cv2.line(img, p[0], p[1], POLE, thickness, cv2.LINE_AA)
        cv2.line(img, p[1], p[2], POLE, thickness, cv2.LINE_AA)
        cv2.circle(img, p[2], thickness + 1, (200, 215, 225), -1, cv2.LINE_AA)
        heads.append(head)
    return np.array(heads, np.float32)


def _lamp_pools(camera: RoadCamera) -> np.ndarray:
    """Where each lamp lights the road: a soft ellipse on the ground beneath its head."""
    pools = np.zeros((camera.height, camera.width), np.uint8)
    for x, z in _lamp_positions(camera):
        cx = x + (-1.8 if x > 0 else 1.8)
        quad = _ground_quad(camera, cx - 6.0, cx + 6.0, z - 7.0, z + 7.0)
        centre = quad.reshape(-1, 2).mean(axis=0) / 16
        axes = np.ptp(quad.reshape(-1, 2), axis=0) / 32
        cv2.ellipse(
            pools,
            tuple(np.round(centre).astype(int)),
            tuple(np.maximum(np.round(axes).astype(int), 1)),
            0,
            0,
            360,
            255,
            -1,
        )
    k = 2 * round(camera.width / 40) + 1
    return cv2.GaussianBlur(pools, (k, k), 0).astype(np.float32) / 255.0


def _cloud_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Soft, large blobs of cloud shade, wide enough to scroll across the frame."""
    coarse = rng.integers(0, 256, size=(max(2, h // 48), max(2, w // 48)), dtype=np.uint8)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    field = cv2.GaussianBlur(field, (0, 0), sigmaX=h / 12)
    lo, hi = int(field.min()), int(field.max())
    return (field.astype(np.float32) - lo) / max(hi - lo, 1)
