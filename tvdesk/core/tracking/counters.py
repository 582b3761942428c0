"""Counting tracks on a line (by class and direction) and in a zone (entries, occupancy, dwell).

A line counts a track when the track's anchor is seen clearly on one side, then clearly on
the other (more than `line_margin_px` from the line both times) at a point within the
segment; each track counts at most once per line, so a box that jitters on the line, or
across its band, adds one count at most. A zone counts a track once when its anchor is first
seen inside, and closes its dwell when it has not been seen inside for `max_lost_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tvdesk.core.tracking.geometry import CountingLine, Zone
from tvdesk.core.tracking.settings import TrackingSettings
from tvdesk.core.tracking.tracks import Tracks

IN, OUT, ENTER, EXIT = "in", "out", "enter", "exit"


@dataclass(frozen=True)
class CountEvent:
    """One counted thing: a track crossed a line ("in"/"out"), entered or left a zone."""

    counter_id: str
    track_id: int
    class_name: str
    direction: str
    t: float  # stream time (s)
    dwell_s: float = 0.0  # for "exit": how long the track was in the zone


@dataclass(frozen=True)
class ZoneState:
    """A zone now: tracks seen inside by class, and how long each track in it has been there."""

    zone_id: str
    inside: dict[str, int] = field(default_factory=dict)
    dwell_s: dict[int, float] = field(default_factory=dict)


class LineCounter:
    """Counts the tracks that cross one line, with a band against jitter."""

    def __init__(self, line: CountingLine, settings: TrackingSettings) -> None:
        self.line = line
        self.settings = settings
        self._side: dict[int, int] = {}  # track id -> last side seen clear of the band, or 0
        self._seen: dict[int, float] = {}
        self._counted: set[int] = set()

    def update(self, tracks: Tracks) -> list[CountEvent]:
        """The crossings of this frame's tracks."""
        anchors = tracks.anchors(self.settings.anchor)
        along = self.line.along(anchors)
        sides = self._sides(anchors)
        earlier = self._sides(tracks.anchors(self.settings.anchor, previous=True))
        events = []
        for k, (track_id, label) in enumerate(
            zip(tracks.ids.tolist(), tracks.labels(), strict=True)
        ):
            self._seen[track_id] = tracks.t
            self._side.setdefault(track_id, int(earlier[k]))  # a new id: its box before
            if sides[k] != 0 and self._flipped(track_id, int(sides[k])) and 0 <= along[k] <= 1:
                events.append(self._count(track_id, label, IN if sides[k] > 0 else OUT, tracks.t))
        self._forget(tracks.t)
        return events

    def _sides(self, points: np.ndarray) -> np.ndarray:
        """+1 right of the line, -1 left of it, 0 within the band around it."""
        distance = self.line.signed_distance(points)
        margin = self.settings.line_margin_px
        return np.where(distance >= margin, 1, np.where(distance <= -margin, -1, 0))

    def _flipped(self, track_id: int, side: int) -> bool:
        before = self._side.get(track_id, 0)
        self._side[track_id] = side
        return before not in (0, side) and track_id not in self._counted

    def _count(self, track_id: int, label: str, direction: str, t: float) -> CountEvent:
        self._counted.add(track_id)
        return CountEvent(self.line.id, track_id, label, direction, t)

    def _forget(self, t: float) -> None:
        """Drop tracks the tracker has dropped: their ids never come back."""
        gone = [i for i, seen in self._seen.items() if t - seen > self.settings.max_lost_s + 1.0]
        for track_id in gone:
            del self._seen[track_id]
            self._side.pop(track_id, None)
            self._counted.discard(track_id)


class ZoneCounter:
    """Entries into one zone, the tracks inside it now and their dwell."""

    def __init__(self, zone: Zone, settings: TrackingSettings) -> None:
        self.zone = zone
        self.settings = settings
        self._stay: dict[int, tuple[float, float, str]] = {}  # id -> first, last inside, class

    def update(self, tracks: Tracks) -> tuple[ZoneState, list[CountEvent]]:
        """The zone's state after this frame, and its entries and exits."""
        inside = self.zone.contains(tracks.anchors(self.settings.anchor))
        events, counts, labels = [], {}, tracks.labels()
        for k in np.flatnonzero(inside).tolist():
            track_id, label = int(tracks.ids[k]), labels[k]
            counts[label] = counts.get(label, 0) + 1
            first = self._stay.get(track_id, (tracks.t,))[0]
            if track_id not in self._stay:
                events.append(CountEvent(self.zone.id, track_id, label, ENTER, tracks.t))
            self._stay[track_id] = (first, tracks.t, label)
        events += self.close(tracks.t - self.settings.max_lost_s)
        dwell = {i: tracks.t - first for i, (first, _, _) in self._stay.items()}
        return ZoneState(self.zone.id, counts, dwell), events

    def close(self, before: float) -> list[CountEvent]:
        """Exits of the tracks last seen inside before `before` (s); all with `math.inf`."""
        done = [i for i, (_, last, _) in self._stay.items() if last < before]
        events = []
        for track_id in done:
            first, last, label = self._stay.pop(track_id)
            events.append(CountEvent(self.zone.id, track_id, label, EXIT, last, last - first))
        return events
