"""Cheap per-frame features that move when light, weather or the camera changes.

Everything is measured on a fixed 160x90 downscale (noise on a native-resolution crop, where
it still exists), so a frame of any size, colour or grey, costs well under a millisecond.
Model-side features come from the detector's `Detections`, never from the model itself.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tvdesk.core.detector.detections import Detections

SMALL_SIZE = (160, 90)  # (width, height) every frame is reduced to
GRID = (3, 4)  # rows, columns of the per-cell sharpness grid (cells of 30x40 px)
EDGE_CONTRAST = 40  # grey levels across a 3x3 neighbourhood that make a pixel an edge
DARK_CHANNEL_PATCH = 5
NOISE_CROP = (96, 54)  # native-resolution crop for the noise estimate
LOW_CONFIDENCE = 0.5  # a box scored below this counts as low-confidence

CELL_FEATURES: tuple[str, ...] = tuple(
    f"sharpness_r{r}c{c}" for r in range(GRID[0]) for c in range(GRID[1])
)
IMAGE_FEATURES: tuple[str, ...] = (
    "luma_mean",
    "luma_p05",
    "luma_p95",
    "contrast",
    "saturation",
    "sharpness",
    "edge_density",
    "dark_channel",
    "noise",
    "edge_recall",
    *CELL_FEATURES,
)
MODEL_FEATURES: tuple[str, ...] = ("detections", "confidence", "low_confidence_share")
FEATURES: tuple[str, ...] = IMAGE_FEATURES + MODEL_FEATURES
FEATURES_VERSION = 2  # bump when a feature's definition changes: profiles must be recomputed

# The smallest spread a reference may have per feature, in the feature's units: a change
# below it is not worth a sigma, and a reference with zero spread divides by this instead.
MIN_SCALE: dict[str, float] = {
    "luma_mean": 1.0,
    "luma_p05": 2.0,
    "luma_p95": 2.0,
    "contrast": 0.5,
    "saturation": 1.0,
    "sharpness": 0.02,
    "edge_density": 0.003,
    "dark_channel": 1.0,
    "noise": 0.1,
    "edge_recall": 0.01,
    **dict.fromkeys(CELL_FEATURES, 0.05),
    "detections": 0.5,
    "confidence": 0.01,
    "low_confidence_share": 0.02,
}

_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_NOISE_GAIN = 1.4826 / 6.0  # robust sigma of the kernel's response, which is 6x the noise
_ERODE = cv2.getStructuringElement(cv2.MORPH_RECT, (DARK_CHANNEL_PATCH, DARK_CHANNEL_PATCH))
_DILATE = np.ones((3, 3), np.uint8)
_GRADIENT = np.ones((3, 3), np.uint8)


def as_bgr_u8(frame: np.ndarray) -> np.ndarray:
    """The frame as 8-bit grey (H, W) or BGR (H, W, 3); raises ValueError if it is not an image."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[:, :, :3]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise ValueError(f"a frame must be grey (H, W) or colour (H, W, 3), got {frame.shape}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"the frame is empty ({frame.shape})")
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        values = np.nan_to_num(frame.astype(np.float32))
        if np.issubdtype(frame.dtype, np.floating) and values.max(initial=0.0) <= 1.0:
            values *= 255.0  # a float image in [0, 1]
        frame = np.clip(values, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


class FrameFeatures:
    """Computes the image features of one frame as a float64 vector in `IMAGE_FEATURES` order.

    `background` is a bool edge map (90x160) of the scene's static edges; without it
    `edge_recall` is NaN. NaN marks a feature that this frame cannot measure. `edges` holds
    the last frame's edge map, for learning a background.
    """

    def __init__(self, background: np.ndarray | None = None) -> None:
        self.background = background
        self.edges = np.zeros(SMALL_SIZE[::-1], np.uint8)

    @property
    def background(self) -> np.ndarray | None:
        return self._background

    @background.setter
    def background(self, edges: np.ndarray | None) -> None:
        if edges is not None:
            edges = np.asarray(edges, bool)
            if edges.shape != SMALL_SIZE[::-1]:
                raise ValueError(f"a background edge map is {SMALL_SIZE[::-1]}, got {edges.shape}")
        self._background = edges
        self._background_mask = edges.astype(np.uint8) * 255 if edges is not None else None
        self._background_count = int(edges.sum()) if edges is not None else 0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        frame = as_bgr_u8(frame)
        small = _downscale(frame)
        if small.ndim == 2:
            luma, darkest, saturation = small, small, 0.0
        else:
            luma = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
            blue, green, red = cv2.split(small)
            darkest = cv2.min(cv2.min(blue, green), red)
            brightest = cv2.max(cv2.max(blue, green), red)
            chroma = cv2.subtract(brightest, darkest)
            saturation = cv2.mean(cv2.divide(chroma, brightest, scale=255))[0]
        self.edges = edges = edge_map(luma)
        cells = _laplacian_energy(luma)
        out = np.empty(len(IMAGE_FEATURES))
        out[0:4] = self._histogram_features(luma)
        out[4] = saturation
        out[5] = math.log10(1.0 + float(cells.mean()))
        out[6] = cv2.countNonZero(edges) / edges.size
        out[7] = cv2.mean(cv2.erode(darkest, _ERODE))[0]
        out[8] = _noise_sigma(frame)
        out[9] = self._edge_recall(edges)
        out[10:] = np.log10(1.0 + cells.ravel())
        return out

    def _histogram_features(self, luma: np.ndarray) -> tuple[float, float, float, float]:
        mean, std = cv2.meanStdDev(luma)
        hist = cv2.calcHist([luma], [0], None, [256], [0, 256]).ravel()
        cdf = np.cumsum(hist)
        p05, p95 = np.searchsorted(cdf, (0.05 * cdf[-1], 0.95 * cdf[-1]))
        return float(mean[0, 0]), float(p05), float(p95), float(std[0, 0])

    def _edge_recall(self, edges: np.ndarray) -> float:
        """Share of the background's edges found again (within a pixel) in this frame."""
        if self._background_count == 0:
            return math.nan
        found = cv2.bitwise_and(cv2.dilate(edges, _DILATE), self._background_mask)
        return cv2.countNonZero(found) / self._background_count


def _downscale(frame: np.ndarray) -> np.ndarray:
    """The 160x90 working image. Large frames are first decimated (nearest neighbour) to twice
    that size, so the area average costs the same whatever the camera's resolution."""
    h, w = frame.shape[:2]
    step = min(w // SMALL_SIZE[0], h // SMALL_SIZE[1]) // 2
    if step >= 2:
        frame = cv2.resize(frame, (w // step, h // step), interpolation=cv2.INTER_NEAREST)
    return cv2.resize(frame, SMALL_SIZE, interpolation=cv2.INTER_AREA)


def _laplacian_energy(luma: np.ndarray) -> np.ndarray:
    """Mean squared Laplacian per grid cell (the Laplacian variance, its mean being ~0)."""
    lap = cv2.Laplacian(luma, cv2.CV_32F, ksize=1)
    rows, cols = GRID
    return cv2.resize(cv2.multiply(lap, lap), (cols, rows), interpolation=cv2.INTER_AREA)


def _noise_sigma(frame: np.ndarray) -> float:
    """Sensor noise in grey levels: a robust Immerkaer estimate on a native-resolution crop."""
    h, w = frame.shape[:2]
    cw, ch = min(NOISE_CROP[0], w), min(NOISE_CROP[1], h)
    if cw < 3 or ch < 3:
        return math.nan
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    crop = frame[y0 : y0 + ch, x0 : x0 + cw]
    luma = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    response = cv2.convertScaleAbs(cv2.filter2D(luma, cv2.CV_16S, _NOISE_KERNEL)[1:-1, 1:-1])
    hist = cv2.calcHist([response], [0], None, [256], [0, 256]).ravel()
    cdf = np.cumsum(hist)
    return float(np.searchsorted(cdf, 0.5 * cdf[-1])) * _NOISE_GAIN


def edge_map(luma: np.ndarray) -> np.ndarray:
    """Edges (0/255) of the 160x90 luma: pixels whose 3x3 neighbourhood spans at least
    `EDGE_CONTRAST` grey levels (a morphological gradient: a third of Canny's cost)."""
    gradient = cv2.morphologyEx(luma, cv2.MORPH_GRADIENT, _GRADIENT)
    return cv2.threshold(gradient, EDGE_CONTRAST - 1, 255, cv2.THRESH_BINARY)[1]


def edge_recall(edges: np.ndarray, background: np.ndarray) -> float:
    """Share of `background`'s edges found again (within a pixel) in `edges`; NaN if none."""
    count = int(np.count_nonzero(background))
    if count == 0:
        return math.nan
    found = cv2.dilate(np.asarray(edges, np.uint8), _DILATE) > 0
    return float(np.count_nonzero(found & np.asarray(background, bool))) / count


class EdgeBackground:
    """Learns a camera's static edges: pixels that are edges in at least half the frames."""

    def __init__(self) -> None:
        self._counts = np.zeros(SMALL_SIZE[::-1], np.int64)
        self.frames = 0

    def add(self, edges: np.ndarray) -> None:
        self._counts += edges > 0
        self.frames += 1

    def edges(self) -> np.ndarray:
        return (self._counts * 2 >= self.frames) & (self._counts > 0)


def detection_features(detections: Detections | None) -> np.ndarray:
    """Model-side features in `MODEL_FEATURES` order; confidence terms are NaN without boxes."""
    if detections is None:
        return np.full(len(MODEL_FEATURES), math.nan)
    scores = np.asarray(detections.scores, np.float64)
    if scores.size == 0:
        return np.array([0.0, math.nan, math.nan])
    return np.array(
        [
            float(scores.size),
            float(scores.mean()),
            float(np.count_nonzero(scores < LOW_CONFIDENCE)) / scores.size,
        ]
    )


def frame_features(
    frame: np.ndarray, detections: Detections | None = None, background: np.ndarray | None = None
) -> dict[str, float]:
    """All features of one frame by name: a convenience for scripts and tests."""
    values = np.concatenate([FrameFeatures(background)(frame), detection_features(detections)])
    return dict(zip(FEATURES, values.tolist(), strict=True))
