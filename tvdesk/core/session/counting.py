"""Tracking and counting in a camera's frame loop: `CameraCounting`, a frame observer.

Every detected frame is tracked and counted on the camera's stored lines and zones; each minute
that ends is handed to the store's batched writer (one change a minute, never a commit per
frame), and the rest at the end of the stream. What it returns, a `CountingSnapshot` (tracks,
trails, totals, zone occupancy), is the frame's "counts" observation: it reaches the GUI and
every consumer inside the frame's `FrameResult`. A kill -9 loses the minute in progress (and a
finished minute only if the kill comes within the writer's batch interval, 0.5 s, after it).

A minute is a minute of the stream's own time line, from the wall time it started playing: for
a live camera that is the wall clock; a file's counts fall on the minutes of the video, from
when it began to play (a seek back or a looped file starts the time line again, from then).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from tvdesk.core.detector.detections import Detections
from tvdesk.core.store import CountingShape, StoreWriter
from tvdesk.core.store.counting_shape import LINE
from tvdesk.core.tracking import CountingFrame, TrackingSettings, Tracks, TrafficCounter
from tvdesk.core.tracking.counting import TotalKey
from tvdesk.core.tracking.minutes import MINUTE_S, CountRow

COUNTS = "counts"  # the observer's name among the loop's observers
TRAIL_POINTS = 12  # anchors kept per track for the overlay's trail

RowWriter = Callable[[list[CountRow]], None]
Trail = tuple[tuple[float, float], ...]


def store_rows(writer: StoreWriter, camera_id: int) -> RowWriter:
    """Rows handed to `writer`, added to camera `camera_id`'s counts in its next batch."""

    def write(rows: list[CountRow]) -> None:
        writer.call(lambda store: store.counts.add(camera_id, rows))

    return write


def totals_by_counter(totals: Mapping[TotalKey, int]) -> dict[str, dict[str, dict[str, int]]]:
    """{counter: {class: {direction: n}}}, sorted: what a summary shows."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (counter, class_name, direction), n in sorted(totals.items()):
        out.setdefault(counter, {}).setdefault(class_name, {})[direction] = n
    return out


@dataclass(frozen=True)
class CountingSnapshot:
    """Counting of one frame, for the overlay and the run summary: the frame's tracks, count
    events and zone occupancy, the totals since the camera started playing, each track's
    recent anchors (oldest first) and the lines and zones counted. Never modified."""

    frame: CountingFrame
    shapes: tuple[CountingShape, ...] = ()
    trails: Mapping[int, Trail] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def tracks(self) -> Tracks:
        return self.frame.tracks

    def detection_ids(self, detections: int) -> list[int | None]:
        """The track id of each of the frame's `detections` boxes (None: not tracked yet)."""
        ids: list[int | None] = [None] * detections
        for index, track_id in zip(
            self.tracks.detection_index.tolist(), self.tracks.ids.tolist(), strict=True
        ):
            if index < detections:
                ids[index] = track_id
        return ids

    def directions(self, counter: str) -> dict[str, int]:
        """A counter's totals by direction, all classes together ({"in": 3, "out": 1})."""
        out: dict[str, int] = {}
        for (name, _, direction), n in self.frame.totals.items():
            if name == counter:
                out[direction] = out.get(direction, 0) + n
        return out

    def occupancy(self, zone: str) -> int:
        """The tracks in `zone` now."""
        state = next((z for z in self.frame.zones if z.zone_id == zone), None)
        return sum(state.inside.values()) if state is not None else 0


class StreamClock:
    """Epoch seconds of a frame: its stream time from the wall time its stream started at
    (again from now when the stream time goes back: a seek, a looped file)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._anchor: float | None = None
        self._last = 0.0

    def __call__(self, t: float) -> float:
        if self._anchor is None or t < self._last:
            self._anchor = self._now() - t
        self._last = t
        return self._anchor + t


class Trails:
    """The last anchors of each track, forgotten once the track is dropped."""

    def __init__(self, points: int, settings: TrackingSettings) -> None:
        self.points = points
        self.settings = settings
        self._trails: dict[int, deque[tuple[float, float]]] = {}
        self._seen: dict[int, float] = {}

    def update(self, tracks: Tracks) -> Mapping[int, Trail]:
        """Add this frame's anchors; the trails of the tracks in it."""
        if self.points <= 0:
            return MappingProxyType({})
        out = {}
        anchors = tracks.anchors(self.settings.anchor).tolist()
        for track_id, (x, y) in zip(tracks.ids.tolist(), anchors, strict=True):
            trail = self._trails.setdefault(track_id, deque(maxlen=self.points))
            trail.append((x, y))
            self._seen[track_id] = tracks.t
            out[track_id] = tuple(trail)
        self._forget(tracks.t)
        return MappingProxyType(out)

    def _forget(self, t: float) -> None:
        gone = [
            i for i, seen in self._seen.items() if not 0 <= t - seen <= self.settings.max_lost_s
        ]
        for track_id in gone:
            del self._seen[track_id], self._trails[track_id]


class CameraCounting:
    """A camera's tracker and counters as a frame observer: `update` on the frame thread.

    `write_rows` receives each finished minute's rows (`store_rows`: the batched writer);
    `model_version()` names the model that detected the frame being counted. `replace_shapes`
    may come from any thread: it applies from the next frame.
    """

    def __init__(
        self,
        shapes: Iterable[CountingShape],
        write_rows: RowWriter,
        model_version: Callable[[], str],
        *,
        settings: TrackingSettings | None = None,
        period_s: float = MINUTE_S,
        clock: Callable[[float], float] | None = None,
        trail_points: int = TRAIL_POINTS,
    ) -> None:
        self.settings = settings or TrackingSettings()
        self._shapes = tuple(shapes)
        lines, zones = _geometries(self._shapes)
        self.counter = TrafficCounter(lines, zones, self.settings, period_s)
        self._write = write_rows
        self._version = model_version
        self._clock = clock or StreamClock()
        self._trails = Trails(trail_points, self.settings)
        self._pending: tuple[CountingShape, ...] | None = None
        self._lock = threading.Lock()

    @property
    def shapes(self) -> tuple[CountingShape, ...]:
        """The lines and zones counted now (or from the next frame, once replaced)."""
        with self._lock:
            return self._pending if self._pending is not None else self._shapes

    def replace_shapes(self, shapes: Iterable[CountingShape]) -> None:
        """Count on `shapes` from the next frame; unchanged ones go on as they were."""
        shapes = tuple(shapes)
        _geometries(shapes)  # a bad one fails here, on the caller's thread
        with self._lock:
            self._pending = shapes

    def update(
        self, frame: np.ndarray, detections: Detections, timestamp: float
    ) -> CountingSnapshot:
        """Track and count one detected frame; its `CountingSnapshot`."""
        self._apply_pending()
        counted = self.counter.update(
            detections, timestamp, clock=self._clock(timestamp), model_version=self._version()
        )
        if counted.rows:
            self._write(list(counted.rows))
        return CountingSnapshot(counted, self._shapes, self._trails.update(counted.tracks))

    def finish(self) -> Mapping[TotalKey, int]:
        """The stream ended: hand over every row left (zone stays closed); the totals."""
        self._apply_pending()
        rows = self.counter.flush()
        if rows:
            self._write(rows)
        return self.counter.totals

    def _apply_pending(self) -> None:
        with self._lock:
            shapes, self._pending = self._pending, None
        if shapes is not None:
            self.counter.set_shapes(*_geometries(shapes))
            self._shapes = shapes


def _geometries(shapes: Iterable[CountingShape]) -> tuple[list, list]:
    lines, zones = [], []
    for shape in shapes:
        (lines if shape.kind == LINE else zones).append(shape.geometry())
    return lines, zones
