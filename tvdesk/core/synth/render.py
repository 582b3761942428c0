"""Render one frame of the synthetic world: vehicles in perspective, light, weather, sensor.

Vehicles are painted far to near into the albedo image and into an id buffer; the ground-truth
box of each vehicle is the extent of its *visible* pixels in that buffer, so occlusion and the
frame's edges are exact. Light and weather are applied to the albedo afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tvdesk.core.synth.backdrop import Backdrop, build_backdrop
from tvdesk.core.synth.conditions import Conditions
from tvdesk.core.synth.geometry import RoadCamera
from tvdesk.core.synth.painter import VehicleLayers, paint_vehicles

MIN_VISIBLE_SHARE = 0.45  # a vehicle hidden more than this is not labelled
MIN_BOX_PX = (12.0, 16.0)  # smallest labelled box (w, h) at 640 px wide: 6x8 px at imgsz 320
NOISE_BANK = 6
CLOUD_WIND_PX_PER_S = 6.0


@dataclass(frozen=True)
class GroundTruth:
    """Exact labels of one frame: boxes in pixels (x1, y1, x2, y2) and class ids."""

    boxes: np.ndarray
    class_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.class_ids)


@dataclass(frozen=True)
class SynthFrame:
    """A rendered frame, its labels and the conditions it was rendered under."""

    image: np.ndarray
    truth: GroundTruth
    conditions: Conditions


def lights_on(c: Conditions) -> float:
    """How much vehicle and street lights shine: off in daylight, on at dusk, in rain and fog."""
    dark = float(np.clip((0.75 - c.daylight) / 0.45, 0.0, 1.0))
    return float(np.clip(dark + 0.5 * c.rain + 0.5 * c.fog, 0.0, 1.0))


class SceneRenderer:
    """Renders frames of one site (camera and seed); the backdrop is built once."""

    def __init__(self, camera: RoadCamera | None = None, site_seed: int = 7) -> None:
        self.camera = camera or RoadCamera()
        self.backdrop: Backdrop = build_backdrop(self.camera, site_seed)
        rng = np.random.default_rng(site_seed + 1)
        shape = (self.camera.height, self.camera.width, 3)
        self._noise = [rng.standard_normal(shape, dtype=np.float32) for _ in range(NOISE_BANK)]
        self._dirt = _lens_dirt_mask(self.camera)

    def render(
        self, vehicles, conditions: Conditions, rng: np.random.Generator, t: float = 0.0
    ) -> SynthFrame:
        """One frame of `vehicles` under `conditions`; `t` (s) scrolls the cloud shade."""
        c = conditions
        layers = paint_vehicles(
            self.backdrop.albedo, self.camera, vehicles, c.sun_angle, with_depth=c.fog > 0
        )
        img = self._lit(layers, c, t)
        if c.rain > 0:
            img = self._rain(img, c, rng)
        if c.fog > 0:
            img = self._fog(img, layers, c)
        if c.lens_dirt > 0:
            img = self._smudge(img, c)
        noise = self._noise[int(rng.integers(NOISE_BANK))]
        img += noise * np.float32(c.noise_sigma / 255.0)
        out = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
        ids = layers.ids
        if c.camera_shift != (0.0, 0.0):
            out, ids = self._shift(out, ids, c.camera_shift)
        return SynthFrame(out, self._labels(ids, layers), c)

    # -- light -------------------------------------------------------------------------------

    def _lit(self, layers: VehicleLayers, c: Conditions, t: float) -> np.ndarray:
        bd, w = self.backdrop, self.camera.width
        albedo = layers.albedo.astype(np.float32) * np.float32(1.0 / 255.0)
        off = int(t * CLOUD_WIND_PX_PER_S) % w
        clouds = bd.cloud_field[:, off : off + w]
        sky = slice(0, bd.sky_rows)
        cover = np.float32(c.cloud_cover)
        if cover > 0:
            albedo[sky] += (np.float32(0.92) - albedo[sky]) * (clouds[sky] * cover * 0.8)[
                :, :, None
            ]

        sunshine = c.daylight * (1 - 0.75 * c.cloud_cover) * (1 - c.rain) * (1 - c.fog)
        shade = np.ones(albedo.shape[:2], np.float32)
        shade[bd.sky_rows :] -= clouds[bd.sky_rows :] * np.float32(
            0.35 * c.cloud_cover * c.daylight
        )
        shade -= layers.shadow * np.float32(0.5 * sunshine / 255.0)
        shade[sky] *= np.float32(0.22 + 0.78 * c.daylight)

        level = 0.09 + 0.91 * c.daylight
        warm = np.array([0.72, 0.88, 1.15]) * c.dusk_tint + (1 - c.dusk_tint)
        cold = np.array([1.25, 1.0, 0.82]) * (1 - c.daylight) + c.daylight
        tint = (level * warm * cold).astype(np.float32)
        img = albedo * shade[:, :, None] * tint

        on = lights_on(c)
        if on > 0:
            lit = bd.lamp_pools * np.float32(0.55) + layers.beams * np.float32(1.1 / 255.0)
            img += (
                albedo * (lit * np.float32(on))[:, :, None] * np.array([0.75, 0.9, 1.0], np.float32)
            )
            img += self._glow(layers, c) * np.float32(on)
        return img

    def _glow(self, layers: VehicleLayers, c: Conditions) -> np.ndarray:
        """Light sources: sharp cores at full size plus a soft halo from a quarter-size blur."""
        h, w = self.camera.height, self.camera.width
        cores = np.zeros((h, w, 3), np.float32)
        for x, y, r, colour in layers.lights:
            cv2.circle(cores, (round(x), round(y)), max(1, round(r)), colour, -1)
            if c.rain > 0:  # reflection of the light on the wet road
                ry = round(y + 6 * r)
                cv2.ellipse(
                    cores,
                    (round(x), ry),
                    (max(1, round(r)), max(2, round(5 * r))),
                    0,
                    0,
                    360,
                    tuple(v * 0.35 * c.rain for v in colour),
                    -1,
                )
        for x, y in self.backdrop.lamp_points:
            r = max(1, round(2 * self.camera.scale))
            cv2.circle(cores, (round(x), round(y)), r, (0.75, 0.9, 1.0), -1)
        small = cv2.resize(cores, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        spread = 1.5 + 3.0 * c.fog + 1.0 * c.rain
        halo = cv2.GaussianBlur(small, (0, 0), sigmaX=spread * self.camera.scale)
        return cores + cv2.resize(halo, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(6.0)

    # -- weather and lens --------------------------------------------------------------------

    def _rain(self, img: np.ndarray, c: Conditions, rng: np.random.Generator) -> np.ndarray:
        h, w = img.shape[:2]
        level = np.float32(0.09 + 0.91 * c.daylight)
        img = img * np.float32(1 - 0.3 * c.rain) + level * np.float32(0.3 * c.rain * 0.45)
        streaks = np.zeros((h, w), np.uint8)
        n = int(320 * c.rain * self.camera.scale**2)
        xs = rng.integers(0, w, n)
        ys = rng.integers(0, h, n)
        length = rng.uniform(8, 22, n) * self.camera.scale
        for x, y, ln in zip(xs, ys, length, strict=True):
            cv2.line(
                streaks, (int(x), int(y)), (int(x - 0.25 * ln), int(y + ln)), 255, 1, cv2.LINE_AA
            )
        img += (streaks.astype(np.float32) * np.float32(0.22 / 255.0) * level)[:, :, None]
        return cv2.blur(img, (3, 3))

    def _fog(self, img: np.ndarray, layers: VehicleLayers, c: Conditions) -> np.ndarray:
        beta = np.float32(0.03 * c.fog)
        depth = np.minimum(layers.depth, np.float32(1e4))
        transmission = np.exp(-beta * depth)[:, :, None]
        level = np.float32(0.09 + 0.91 * c.daylight)
        veil = np.array([0.80, 0.80, 0.78], np.float32) * level
        return img * transmission + veil * (1 - transmission)

    def _smudge(self, img: np.ndarray, c: Conditions) -> np.ndarray:
        mask = (self._dirt * np.float32(c.lens_dirt))[:, :, None]
        k = 2 * round(10 * self.camera.scale) + 1
        veiled = cv2.GaussianBlur(img, (k, k), 0) * np.float32(0.7) + np.float32(0.18)
        return img * (1 - mask) + veiled * mask

    def _shift(self, img: np.ndarray, ids: np.ndarray, shift: tuple[float, float]):
        dx = round(shift[0] * self.camera.width)
        dy = round(shift[1] * self.camera.height)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        size = (self.camera.width, self.camera.height)
        moved = cv2.warpAffine(
            img, m, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE
        )
        moved_ids = cv2.warpAffine(
            ids, m, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        return moved, moved_ids

    # -- labels ------------------------------------------------------------------------------

    def _labels(self, ids: np.ndarray, layers: VehicleLayers) -> GroundTruth:
        boxes, classes = [], []
        min_w, min_h = (v * self.camera.scale for v in MIN_BOX_PX)
        visible_counts = np.bincount(ids.ravel(), minlength=len(layers.class_ids) + 1)
        for i, class_id in enumerate(layers.class_ids):
            full = layers.areas[i]
            if full <= 0 or visible_counts[i + 1] < MIN_VISIBLE_SHARE * full:
                continue
            # The extent of the pixels left visible (one mask per vehicle: about as fast as
            # scipy.ndimage.find_objects, and the player needs no SciPy).
            x, y, w, h = cv2.boundingRect((ids == i + 1).view(np.uint8))
            if w < min_w or h < min_h:
                continue
            boxes.append((x, y, x + w, y + h))
            classes.append(class_id)
        return GroundTruth(np.array(boxes, np.float32).reshape(-1, 4), np.array(classes, np.int64))


def _lens_dirt_mask(camera: RoadCamera) -> np.ndarray:
    """A smudge in the lower-right corner of the lens, soft-edged."""
    h, w = camera.height, camera.width
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(
        mask, (int(w * 0.8), int(h * 0.78)), (int(w * 0.2), int(h * 0.24)), 20, 0, 360, 255, -1
    )
    k = 2 * round(w / 16) + 1
    return cv2.GaussianBlur(mask, (k, k), 0).astype(np.float32) / 255.0
