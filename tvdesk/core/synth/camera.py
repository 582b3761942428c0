"""The synthetic camera: a scripted scenario streamed frame by frame with its ground truth.

A scenario is a list of segments (hold a condition, or fade to it). Traffic is simulated
continuously, so consecutive frames are as correlated as a real camera's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tvdesk.core.synth.conditions import Conditions, preset
from tvdesk.core.synth.geometry import RoadCamera
from tvdesk.core.synth.render import SceneRenderer, SynthFrame
from tvdesk.core.synth.vehicles import Vehicle, advance_traffic, sample_traffic


@dataclass(frozen=True)
class Segment:
    """`seconds` of video that ends in `condition`; with `fade` it blends there from the last."""

    condition: str
    seconds: float
    fade: bool = False


@dataclass(frozen=True)
class Scenario:
    """A timeline of segments; the first segment is held from the start."""

    name: str
    segments: tuple[Segment, ...]

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.segments)

    def conditions_at(self, t: float) -> Conditions:
        """The conditions at time t (s), clamped to the end of the scenario."""
        current = preset(self.segments[0].condition)
        start = 0.0
        for seg in self.segments:
            target = preset(seg.condition)
            if t < start + seg.seconds:
                if seg.fade:
                    return current.blend(target, (t - start) / seg.seconds)
                return target
            current, start = target, start + seg.seconds
        return current

    def onset_of(self, condition: str) -> float | None:
        """When the first segment that brings `condition` begins (s), if any."""
        start = 0.0
        for seg in self.segments:
            if seg.condition == condition:
                return start
            start += seg.seconds
        return None


SCENARIOS: dict[str, Scenario] = {
    "day-night": Scenario(
        "day-night",
        (
            Segment("day", 60.0),
            Segment("night", 10.0, fade=True),
            Segment("night", 120.0),
        ),
    ),
    "day-night-rain-fog": Scenario(
        "day-night-rain-fog",
        (
            Segment("day", 60.0),
            Segment("night", 10.0, fade=True),
            Segment("night", 90.0),
            Segment("rain", 10.0, fade=True),
            Segment("rain", 90.0),
            Segment("fog", 10.0, fade=True),
            Segment("fog", 90.0),
        ),
    ),
    "day": Scenario("day", (Segment("day", 3600.0),)),
    "day-dirty-lens": Scenario(
        "day-dirty-lens",
        (
            Segment("day", 60.0),
            Segment("dirty-lens", 30.0, fade=True),
            Segment("dirty-lens", 120.0),
        ),
    ),
    "day-camera-moved": Scenario(
        "day-camera-moved",
        (
            Segment("day", 60.0),
            Segment("camera-moved", 120.0),
        ),
    ),
}


class UnknownScenarioError(ValueError):
    """Raised for a scenario name that is not defined."""


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UnknownScenarioError(
            f"unknown scenario {name!r}: choose one of {', '.join(SCENARIOS)}"
        ) from None


class SyntheticCamera:
    """Streams a scenario at `fps`; frames carry their exact labels. Deterministic per seed."""

    def __init__(
        self,
        scenario_name: str | Scenario = "day-night",
        fps: float = 10.0,
        seed: int = 0,
        width: int = 640,
        height: int = 360,
        loop: bool = False,
    ) -> None:
        self.scenario = (
            scenario_name if isinstance(scenario_name, Scenario) else scenario(scenario_name)
        )
        self.fps = fps
        self.seed = seed
        self.loop = loop
        self.renderer = SceneRenderer(RoadCamera().resized(width, height))
        self._rng = np.random.default_rng(seed)
        self._traffic: list[Vehicle] = sample_traffic(self._rng, self.renderer.camera, 0.5)
        self._index = 0

    @property
    def frame_count(self) -> int:
        return round(self.scenario.seconds * self.fps)

    @property
    def size(self) -> tuple[int, int]:
        return self.renderer.camera.width, self.renderer.camera.height

    @property
    def traffic(self) -> tuple[Vehicle, ...]:
        """The vehicles of the frame that the next `read` renders: the world's exact state."""
        return tuple(self._traffic)

    def time_of(self, index: int) -> float:
        return index / self.fps

    def read(self) -> SynthFrame | None:
        """The next frame, or None at the end of a scenario that does not loop."""
        if self._index >= self.frame_count:
            if not self.loop:
                return None
            self._index = 0
        t = self.time_of(self._index)
        conditions = self.scenario.conditions_at(t)
        frame = self.renderer.render(self._traffic, conditions, self._rng, t)
        self._traffic = advance_traffic(
            self._traffic,
            self._rng,
            self.renderer.camera,
            1.0 / self.fps,
            conditions.traffic_density,
        )
        self._index += 1
        return frame

    def __iter__(self) -> Iterator[SynthFrame]:
        while (frame := self.read()) is not None:
            yield frame
