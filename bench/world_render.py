"""Rendered material for the feature-level world model: frames of the synthetic world under
chosen conditions, measured with the drift features.

Rendering is the slow part (~30 ms a frame), so every function here is a pure function of
its seed and arguments and can run in a process pool.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tvdesk.core.drift.features import EdgeBackground, FrameFeatures
from tvdesk.core.synth import Conditions, SceneRenderer, preset
from tvdesk.core.synth.vehicles import advance_traffic, sample_traffic

# The harmless variety of a day, with the ranges of `Conditions.with_nuisance`.
NUISANCE: tuple[str, ...] = (
    "cloud_cover",
    "traffic_density",
    "noise_factor",
    "daylight_factor",
    "sun_angle",
)
NUISANCE_LOW = np.array([0.0, 0.2, 0.6, 0.85, 0.0])
NUISANCE_HIGH = np.array([0.8, 1.0, 1.4, 1.0, 1.0])


def day_conditions(nuisance: Sequence[float]) -> Conditions:
    """The `day` preset with one point of nuisance (values in `NUISANCE` order)."""
    cloud, traffic, noise, daylight, sun = (float(v) for v in nuisance)
    day = preset("day")
    return dataclasses.replace(
        day,
        cloud_cover=cloud,
        traffic_density=traffic,
        noise_sigma=day.noise_sigma * noise,
        daylight=day.daylight * daylight,
        sun_angle=sun,
    )


def sample_nuisance(rng: np.random.Generator, n: int) -> np.ndarray:
    """n independent points of nuisance, uniform over the ranges (n, 5)."""
    return NUISANCE_LOW + (NUISANCE_HIGH - NUISANCE_LOW) * rng.random((n, len(NUISANCE)))


@dataclass(frozen=True)
class Drift:
    """A change of condition: `target(c)` is `c` fully drifted, blended in by level 0..1."""

    name: str
    target: Callable[[Conditions], Conditions]

    def at(self, conditions: Conditions, level: float) -> Conditions:
        return conditions.blend(self.target(conditions), level) if level > 0 else conditions


def _weather(name: str) -> Callable[[Conditions], Conditions]:
    def target(c: Conditions) -> Conditions:
        return dataclasses.replace(
            preset(name), traffic_density=c.traffic_density, sun_angle=c.sun_angle
        )

    return target


def _fault(name: str) -> Callable[[Conditions], Conditions]:
    fault = preset(name)

    def target(c: Conditions) -> Conditions:
        return dataclasses.replace(c, lens_dirt=fault.lens_dirt, camera_shift=fault.camera_shift)

    return target


DRIFTS: dict[str, Drift] = {
    "night": Drift("night", _weather("night")),
    "rain": Drift("rain", _weather("rain")),
    "fog": Drift("fog", _weather("fog")),
    "dirty_lens": Drift("dirty_lens", _fault("dirty-lens")),
    "camera_shift": Drift("camera_shift", _fault("camera-moved")),
}


def render_path(
    seed: int,
    conditions: Sequence[Conditions],
    fps: float,
    background: np.ndarray | None,
    start_time: float = 0.0,
) -> np.ndarray:
    """Features (frames, IMAGE_FEATURES) of contiguous video, one frame per conditions entry;
    traffic moves on between frames as a real camera's would."""
    renderer = SceneRenderer()
    rng = np.random.default_rng(seed)
    features = FrameFeatures(background)
    traffic = sample_traffic(rng, renderer.camera, conditions[0].traffic_density)
    out = []
    for i, c in enumerate(conditions):
        frame = renderer.render(traffic, c, rng, start_time + i / fps)
        out.append(features(frame.image))
        traffic = advance_traffic(traffic, rng, renderer.camera, 1.0 / fps, c.traffic_density)
    return np.array(out)


def learn_background(seed: int, seconds: float = 30.0, fps: float = 2.0) -> np.ndarray:
    """The site's static edges as the monitor learns them at the start of a stream."""
    renderer = SceneRenderer()
    rng = np.random.default_rng(seed)
    c = day_conditions(sample_nuisance(rng, 1)[0])
    traffic = sample_traffic(rng, renderer.camera, c.traffic_density)
    learner, features = EdgeBackground(), FrameFeatures()
    for i in range(int(seconds * fps)):
        features(renderer.render(traffic, c, rng, i / fps).image)
        learner.add(features.edges)
        traffic = advance_traffic(traffic, rng, renderer.camera, 1.0 / fps, c.traffic_density)
    return learner.edges()


def render_sequence(
    seed: int, seconds: float, fps: float, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A stretch of stable video at one random point of nuisance: (nuisance, features)."""
    rng = np.random.default_rng(seed)
    nuisance = sample_nuisance(rng, 1)[0]
    frames = round(seconds * fps)
    path = [day_conditions(nuisance)] * frames
    return nuisance, render_path(seed + 1, path, fps, background, float(rng.uniform(0, 600)))


def render_drift_pairs(
    seed: int, drift: str, levels: Sequence[float], background: np.ndarray
) -> np.ndarray:
    """Feature change caused by `drift` at each level, for one random scene and nuisance:
    (levels, features), each drifted frame paired with the same scene undrifted."""
    renderer = SceneRenderer()
    rng = np.random.default_rng(seed)
    base = day_conditions(sample_nuisance(rng, 1)[0])
    traffic = sample_traffic(rng, renderer.camera, base.traffic_density)
    t = float(rng.uniform(0, 600))
    features = FrameFeatures(background)

    def measure(c: Conditions) -> np.ndarray:
        return features(renderer.render(traffic, c, np.random.default_rng(seed), t).image)

    reference = measure(base)
    return np.array([measure(DRIFTS[drift].at(base, level)) - reference for level in levels])
