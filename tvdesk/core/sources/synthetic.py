"""The synthetic camera as a source: scripted traffic scenes whose frames carry exact labels.

Paced, it behaves like a live camera (a frame every 1/fps seconds, whether or not anyone keeps
up); unpaced, like a file read as fast as it renders.
"""

from __future__ import annotations

import time

from tvdesk.core.sources.base import Frame, SourceInfo, VideoSource, make_frame
from tvdesk.core.synth.camera import Scenario, SyntheticCamera


class SyntheticSource(VideoSource):
    """Frames of a `SyntheticCamera`, each with its ground truth and conditions."""

    def __init__(
        self,
        scenario: str | Scenario = "day-night",
        *,
        fps: float = 10.0,
        seed: int = 0,
        size: tuple[int, int] = (640, 360),
        loop: bool = False,
        paced: bool = True,
    ) -> None:
        super().__init__()
        self.camera = SyntheticCamera(scenario, fps, seed, size[0], size[1], loop)
        self.paced = paced
        self._index = 0
        self._started: float | None = None  # the clock starts at the first read

    @property
    def info(self) -> SourceInfo:
        count = None if self.camera.loop else self.camera.frame_count
        return SourceInfo(
            "synthetic",
            f"synthetic:{self.camera.scenario.name}",
            self.camera.fps,
            self.camera.size,
            count,
            live=self.paced,
            seekable=False,
        )

    def read(self) -> Frame | None:
        if self.paced and self._interrupted.wait(self._wait_for_next()):
            return None
        if self._interrupted.is_set():
            return None
        start = time.perf_counter()
        rendered = self.camera.read()
        if rendered is None:
            return None
        ms = (time.perf_counter() - start) * 1000.0
        index = self._index % self.camera.frame_count
        self._index += 1
        return make_frame(
            rendered.image,
            index,
            self.camera.time_of(index),
            ms,
            truth=rendered.truth,
            conditions=rendered.conditions,
        )

    def close(self) -> None:
        """Nothing to release: the camera is pure computation."""

    def _wait_for_next(self) -> float:
        if self._started is None:
            self._started = time.monotonic()
        due = self._started + self._index / self.camera.fps
        return max(0.0, due - time.monotonic())
