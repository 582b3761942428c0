"""Relight labelled images of a fixed camera to the light its drifted frames were taken in.

A fixed camera's view changes with the light pixel by pixel: at night the road between the
lamps goes dark, the lamp pools stay lit, the sky turns black. For a change of light, not of
view, the drifted scene is the base scene times a gain per pixel and colour, and the two
backgrounds give it: the median of the drifted frames over the median of the base images
(vehicles pass, the road stays). A labelled base image times that gain is its traffic under
the new light with its labels still right: many more, and more varied, examples of the
drifted condition than the minute of stream behind a drift alarm holds.

What a gain cannot make: the vehicles' own lights (headlights, tail lights), which only the
drifted frames show, so relit images go beside those frames, never instead of them; and a
veil (fog), which adds light rather than scaling it. A gain is meaningless when the drifted
frames are not the base images' view (another camera, a camera that moved): `relighting`
refuses then, judged by the edges of the two backgrounds in log space, where a change of
light drops out and a change of view does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

BACKGROUND_SAMPLES = 60  # images a background median is taken over, evenly spaced
# Edge agreement of the two backgrounds (zero-mean correlation of log-gradient magnitudes)
# below which the views are taken to differ. Measured against the base images' background
# (tests/retrain/test_relight.py has the synthetic cases): day 0.99, dusk 0.91, rain 0.82,
# fog 0.64, night 0.41; the camera knocked 26 px aside 0.07, real videos of other sites
# -0.05 and 0.02.
MIN_VIEW_SIMILARITY = 0.25
MAX_GAIN = 8.0
DARK_OFFSET = 2.0  # grey levels added to both backgrounds so that black over black is 1
GAIN_BLUR_SIGMA = 1.5  # px; the medians' own noise, smoothed out of the gain


class NotRelightable(Exception):  # noqa: N818 - an answer, not a fault
    """The drifted frames cannot be told as a change of light of the base images; says why."""


@dataclass(frozen=True)
class Relighting:
    """A per-pixel, per-colour gain and the sensor noise the relit image still lacks."""

    gain: np.ndarray  # float32, height x width x 3
    added_noise: float  # grey levels (standard deviation)
    view_similarity: float

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """`image` (BGR uint8, the base images' size) under the drifted light."""
        if image.shape != self.gain.shape:
            raise NotRelightable(
                f"an image of {image.shape[1]}x{image.shape[0]} cannot take a gain of "
                f"{self.gain.shape[1]}x{self.gain.shape[0]}"
            )
        lit = image.astype(np.float32) * self.gain
        if self.added_noise > 0:
            lit += rng.standard_normal(lit.shape, dtype=np.float32) * np.float32(self.added_noise)
        return np.clip(np.rint(lit), 0, 255).astype(np.uint8)


def relighting(drifted: Sequence[np.ndarray], base: Sequence[np.ndarray]) -> Relighting:
    """The gain that turns the base images' light into the drifted frames' light.

    Raises NotRelightable (with the reason) when the frames differ in size or in view.
    """
    if not drifted or not base:
        raise NotRelightable("relighting needs drifted frames and base images")
    sizes = {image.shape for image in (*drifted, *base)}
    if len(sizes) != 1:
        raise NotRelightable(
            "the drifted frames and the base images differ in size "
            f"({', '.join(f'{s[1]}x{s[0]}' for s in sorted(sizes))})"
        )
    drifted_bg, base_bg = background(drifted), background(base)
    similarity = view_similarity(drifted_bg, base_bg)
    if similarity < MIN_VIEW_SIMILARITY:
        raise NotRelightable(
            f"the drifted frames do not show the base images' view (edge agreement "
            f"{similarity:.2f}, below {MIN_VIEW_SIMILARITY}): another camera, or one that moved"
        )
    gain = (drifted_bg + DARK_OFFSET) / (base_bg + DARK_OFFSET)
    gain = np.clip(cv2.GaussianBlur(gain, (0, 0), GAIN_BLUR_SIGMA), 0.0, MAX_GAIN)
    # The noise a relit image must still get to look like the drifted frames: what they
    # have beyond what the scaled base image keeps of its own.
    relit = [np.clip(image.astype(np.float32) * gain, 0, 255) for image in spread(base, 8)]
    have = float(np.median([noise_sigma(image) for image in relit]))
    want = float(np.median([noise_sigma(frame) for frame in spread(drifted, 8)]))
    return Relighting(
        gain.astype(np.float32), float(np.sqrt(max(want**2 - have**2, 0.0))), similarity
    )


def background(images: Sequence[np.ndarray]) -> np.ndarray:
    """The per-pixel median of up to BACKGROUND_SAMPLES images: the scene without traffic."""
    stack = np.stack([image.astype(np.float32) for image in spread(images, BACKGROUND_SAMPLES)])
    return np.median(stack, axis=0)


def view_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Zero-mean correlation of the two images' log-gradient magnitudes (1 = the same edges)."""
    ga, gb = _log_edges(a), _log_edges(b)
    ga, gb = ga - ga.mean(), gb - gb.mean()
    denominator = float(np.sqrt((ga * ga).sum() * (gb * gb).sum()))
    return float((ga * gb).sum() / denominator) if denominator > 0 else 0.0


def noise_sigma(image: np.ndarray) -> float:
    """Sensor noise (grey levels, per colour channel) by Immerkaer's method: the response to
    a kernel that cancels smooth shading and leaves the noise (Fast Noise Variance
    Estimation, 1996)."""
    pixels = image.astype(np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(pixels, -1, kernel)
    response = response.reshape(pixels.shape)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(response).mean() / 6.0)


def _log_edges(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image.astype(np.float32), cv2.COLOR_BGR2GRAY)
    log = np.log(grey + np.float32(4.0))
    return np.hypot(
        cv2.Sobel(log, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(log, cv2.CV_32F, 0, 1, ksize=3)
    )


def spread(images: Sequence, count: int) -> Sequence:
    """At most `count` of `images`, evenly spaced."""
    step = max(1, len(images) // count)
    return images[::step][:count]
