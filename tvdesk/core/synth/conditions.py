"""Weather and light as continuous parameters, named presets, and the nuisance within one.

A named condition (`day`, `night`, ...) is a preset of `Conditions`. Scenarios blend presets
over time, so a 10 s fall of night is a smooth interpolation of every parameter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Conditions:
    """Everything about light, weather and the camera that changes how a scene looks.

    All amounts are in [0, 1] unless said otherwise; 0 means "absent".
    """

    daylight: float = 1.0  # 1 = full sun, 0 = night
    dusk_tint: float = 0.0  # warm orange cast of a low sun
    rain: float = 0.0  # streaks, wet road, lower contrast
    fog: float = 0.0  # depth haze density
    noise_sigma: float = 2.0  # sensor noise in 8-bit grey levels
    cloud_cover: float = 0.3  # how much of the sky (and the road's light) the clouds take
    sun_angle: float = 0.5  # 0 = sun from the left, 1 = from the right (shading side)
    traffic_density: float = 0.5  # vehicles per lane, relative
    lens_dirt: float = 0.0  # smudge on the lens in one corner
    camera_shift: tuple[float, float] = (0.0, 0.0)  # pan/tilt as a fraction of width/height

    def blend(self, other: Conditions, t: float) -> Conditions:
        """Linear interpolation towards `other` (t=0 -> self, t=1 -> other)."""
        t = float(min(max(t, 0.0), 1.0))
        values = {}
        for field in dataclasses.fields(self):
            a, b = getattr(self, field.name), getattr(other, field.name)
            if isinstance(a, tuple):
                values[field.name] = tuple(x + (y - x) * t for x, y in zip(a, b, strict=True))
            else:
                values[field.name] = a + (b - a) * t
        return Conditions(**values)

    def with_nuisance(self, rng: np.random.Generator) -> Conditions:
        """The same condition with a real day's harmless variety: clouds, sun, traffic, noise."""
        return dataclasses.replace(
            self,
            cloud_cover=float(rng.uniform(0.0, 0.8)),
            sun_angle=float(rng.uniform(0.0, 1.0)),
            traffic_density=float(rng.uniform(0.2, 1.0)),
            noise_sigma=self.noise_sigma * float(rng.uniform(0.6, 1.4)),
            daylight=self.daylight * float(rng.uniform(0.85, 1.0))
            if self.daylight > 0.5
            else self.daylight,
        )


PRESETS: dict[str, Conditions] = {
    "day": Conditions(),
    "dusk": Conditions(daylight=0.45, dusk_tint=1.0, noise_sigma=3.0),
    "night": Conditions(daylight=0.0, noise_sigma=5.0, cloud_cover=0.0),
    "rain": Conditions(daylight=0.7, rain=1.0, noise_sigma=3.0, cloud_cover=1.0),
    "fog": Conditions(daylight=0.85, fog=1.0, noise_sigma=2.0, cloud_cover=1.0),
    # Camera faults, on a day: a smudge over the lens's lower-right corner, and a camera
    # knocked 26 px right and 11 px down (at 640x360).
    "dirty-lens": Conditions(lens_dirt=1.0),
    "camera-moved": Conditions(camera_shift=(0.04, 0.03)),
}

CONDITION_NAMES: tuple[str, ...] = tuple(PRESETS)


class UnknownConditionError(ValueError):
    """Raised for a condition name that is not one of the presets."""


def preset(name: str) -> Conditions:
    """The named preset, or an error that lists the valid names."""
    try:
        return PRESETS[name]
    except KeyError:
        valid = ", ".join(CONDITION_NAMES)
        raise UnknownConditionError(f"unknown condition {name!r}: choose one of {valid}") from None
