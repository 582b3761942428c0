"""The pinhole camera above the road and the lanes it looks along.

World axes: X to the right across the road, Y up, Z along the road away from the camera (m).
The camera looks along +Z with a level optical axis, so the horizon is a fixed image row and
the road's edges meet at the vanishing point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LANE_WIDTH_M = 3.6


@dataclass(frozen=True)
class RoadCamera:
    """A camera `height_m` above the road, `offset_m` to the side of the road's centre line."""

    width: int = 640
    height: int = 360
    focal_px: float = 500.0
    height_m: float = 8.0
    offset_m: float = -1.5
    horizon_frac: float = 0.30
    lanes: int = 4
    near_m: float = 12.0
    far_m: float = 170.0

    @property
    def horizon_y(self) -> float:
        return self.height * self.horizon_frac

    @property
    def centre_x(self) -> float:
        return self.width / 2.0

    @property
    def scale(self) -> float:
        """Image size relative to the 640 px reference the scene was designed at."""
        return self.width / 640.0

    def resized(self, width: int, height: int) -> RoadCamera:
        """The same view rendered at another resolution (focal length scales with width)."""
        return RoadCamera(
            width=width,
            height=height,
            focal_px=self.focal_px * width / self.width,
            height_m=self.height_m,
            offset_m=self.offset_m,
            horizon_frac=self.horizon_frac,
            lanes=self.lanes,
            near_m=self.near_m,
            far_m=self.far_m,
        )

    def project(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """World points (m) to image points (px), shape (..., 2)."""
        f = self.focal_px
        out = np.empty((*np.shape(z), 2))
        out[..., 0] = self.centre_x + f * (x - self.offset_m) / z
        out[..., 1] = self.horizon_y + f * (self.height_m - y) / z
        return out

    def ground_depth_of_row(self, v: np.ndarray) -> np.ndarray:
        """Distance (m) of the road point seen at image row v; inf at and above the horizon."""
        dv = v - self.horizon_y
        with np.errstate(divide="ignore"):
            return np.where(dv > 0, self.focal_px * self.height_m / np.maximum(dv, 1e-9), np.inf)

    def lane_centre_x(self, lane: int) -> float:
        """X (m) of a lane's centre; lanes are numbered left to right."""
        return (lane - (self.lanes - 1) / 2.0) * LANE_WIDTH_M

    def lane_heads_towards_camera(self, lane: int) -> bool:
        """Left half of the road comes towards the camera, right half drives away."""
        return lane < self.lanes // 2

    @property
    def road_half_width_m(self) -> float:
        return self.lanes * LANE_WIDTH_M / 2.0
