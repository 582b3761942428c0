"""The operator's counting lines and zones of the camera playing: drawn, moved or deleted, they
are stored with the camera and counted from the next frame (the GUI's editor calls these)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from tvdesk.core.session.stream import CameraStream
from tvdesk.core.store import Camera, CountingShape, Store


class PlayingCamera(Protocol):
    """What the editing needs of the live session: its store and the camera playing."""

    @property
    def store(self) -> Store: ...

    @property
    def stream(self) -> CameraStream | None: ...

    @property
    def camera(self) -> Camera | None: ...


class CountingShapes:
    """The lines and zones of the camera playing now (else the last one that played).

    Each change raises ValueError with a sentence when the shape is bad (a line of zero
    length, a zone of fewer than 3 corners): then nothing is stored or counted.
    """

    def __init__(self, session: PlayingCamera) -> None:
        self.session = session

    def all(self) -> list[CountingShape]:
        camera = self.session.camera
        return self.session.store.counters.of_camera(camera.id) if camera else []

    def add(
        self, kind: str, points: Iterable[Sequence[float]], name: str | None = None
    ) -> CountingShape:
        """Store a new line (start, end) or zone (corners in order) for the camera."""
        shape = self.session.store.counters.add(self._camera().id, kind, points, name)
        self._count(shape.camera_id)
        return shape

    def move(self, shape_id: int, points: Iterable[Sequence[float]]) -> CountingShape:
        shape = self.session.store.counters.move(shape_id, points)
        self._count(shape.camera_id)
        return shape

    def delete(self, shape_id: int) -> CountingShape:
        """Delete a line or zone; what it counted stays in the store."""
        shape = self.session.store.counters.delete(shape_id)
        self._count(shape.camera_id)
        return shape

    def _camera(self) -> Camera:
        camera = self.session.camera
        if camera is None:
            raise RuntimeError("no camera has played yet: open one before drawing a line")
        return camera

    def _count(self, camera_id: int) -> None:
        """The camera's counting (if it plays) takes its stored shapes from the next frame."""
        stream = self.session.stream
        if stream is not None and stream.camera.id == camera_id:
            stream.counting.replace_shapes(self.session.store.counters.of_camera(camera_id))
