"""Counting tracks on a line (by class and direction) and in a zone (entries, occupancy, dwell).

A line counts a track when the track's anchor is seen clearly on one side, then clearly on
the other (more than `line_margin_px` from the line both times) at a point within the
segment; each track counts at most once per line, so a box that jitters on the line, or
across its band, adds one count at most. A vehicle hidden by a nearer one as it crosses (a
car behind a lorry near the frame's edge) comes back, if at all, as a new track already past
the line; with `count_hidden_crossings`, a new track first seen clearly past the line and
driving away from it counts when its path, traced back, crosses the segment, unless a track
counted in the same direction a moment before crossed at the same place (the same vehicle
found again under a new id). A zone counts a track once when its anchor is first
seen inside, and closes its dwell when it has not been seen inside for `max_lost_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tvdesk.core.tracking.geometry import CountingLine, Zone
from tvdesk.core.tracking.settings import TrackingSettings
from tvdesk.core.tracking.tracks import Tracks

IN, OUT, ENTER, EXIT = "in", "out", "enter", "exit"
MIN_AWAY_PX = 1.0  # a new track past a line must move away from it by this much a detection
SAME_CROSSING_S = 0.5  # two counts this close in time and place are one vehicle's


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
        self._recent: list[tuple[float, float, str]] = []  # crossings: when, where, direction
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._labels: dict[int, str] = {}  # track id -> its class by vote, newest
        self._waiting: dict[int, tuple[str, float]] = {}  # counted, class unsettled: direction, t

    def update(self, tracks: Tracks) -> list[CountEvent]:
        """The crossings of this frame's tracks."""
        anchors = tracks.anchors(self.settings.anchor)
        along = self.line.along(anchors)
        sides = self._sides(anchors)
        earlier = self._sides(tracks.anchors(self.settings.anchor, previous=True))
        for k, (track_id, label) in enumerate(
            zip(tracks.ids.tolist(), tracks.labels(), strict=True)
        ):
            self._seen[track_id] = tracks.t
            self._labels[track_id] = label
            if track_id not in self._side:  # a new id: its box before
                self._side[track_id] = int(earlier[k])
                hidden = self._hidden_crossing(tracks, k, int(sides[k]), int(earlier[k]))
                if hidden is not None:
                    self._count(track_id, *hidden, tracks.t)
                    continue
            if sides[k] != 0 and self._flipped(track_id, int(sides[k])) and 0 <= along[k] <= 1:
                direction = IN if sides[k] > 0 else OUT
                self._count(track_id, direction, along[k], tracks.t, tracks.t)
        events = self._settled(tracks.t - self.settings.class_settle_s, tracks.t)
        self._first_t = tracks.t if self._first_t is None else self._first_t
        self._last_t = tracks.t
        self._forget(tracks.t)
        return events

    def _hidden_crossing(
        self, tracks: Tracks, k: int, side: int, side_before: int
    ) -> tuple[str, float, float] | None:
        """(direction, where along the line, when) of a crossing that a new track made
        hidden, or None. The track is first seen clear of the line on one side, its box
        before too, and its box moves away from the line; its path traced back at that speed
        crosses the segment less than `max_lost_s` ago (and after counting began), and no
        track counted in that direction crossed there (within the box's width) within
        `SAME_CROSSING_S` of that moment: that would be the same vehicle under a new id."""
        if not self.settings.count_hidden_crossings or side == 0 or side_before != side:
            return None
        if self._last_t is None or tracks.t <= self._last_t:
            return None
        # Motion from the box centre: a box cut by the frame's edge keeps its bottom there.
        centre, centre_before = (tracks.anchors("centre", previous=p)[k] for p in (False, True))
        moved = float(np.diff(self.line.signed_distance(np.stack([centre_before, centre])))[0])
        if moved * side < MIN_AWAY_PX:
            return None  # standing, or driving towards the line: it will cross in sight
        anchor = tracks.anchors(self.settings.anchor)[k]
        steps = float(self.line.signed_distance(anchor[None, :])[0]) / moved
        crossed_at = tracks.t - steps * (tracks.t - self._last_t)  # a detection a step
        if tracks.t - crossed_at > self.settings.max_lost_s or crossed_at < self._first_t:
            return None
        where = float(self.line.along((anchor - (centre - centre_before) * steps)[None, :])[0])
        if not 0.0 <= where <= 1.0:
            return None
        direction = IN if side > 0 else OUT
        width = float(tracks.xyxy[k, 2] - tracks.xyxy[k, 0]) / self.line.length
        for t, place, counted in self._recent:
            if (
                counted == direction
                and abs(place - where) <= width
                and abs(t - crossed_at) <= SAME_CROSSING_S
            ):
                return None
        return direction, where, crossed_at

    def _sides(self, points: np.ndarray) -> np.ndarray:
        """+1 right of the line, -1 left of it, 0 within the band around it."""
        distance = self.line.signed_distance(points)
        margin = self.settings.line_margin_px
        return np.where(distance >= margin, 1, np.where(distance <= -margin, -1, 0))

    def _flipped(self, track_id: int, side: int) -> bool:
        before = self._side.get(track_id, 0)
        self._side[track_id] = side
        return before not in (0, side) and track_id not in self._counted

    def _count(
        self, track_id: int, direction: str, along: float, crossed_at: float, t: float
    ) -> None:
        """Count the track now; its event waits `class_settle_s` for its class (see
        `_settled`)."""
        self._counted.add(track_id)
        self._recent.append((crossed_at, float(along), direction))
        self._waiting[track_id] = (direction, t)

    def _settled(self, counted_before: float, now: float) -> list[CountEvent]:
        """The events of the tracks counted before `counted_before`, or no longer in view,
        with the class their votes give now: a car that comes into view from behind a lorry
        is often called a motorcycle on its first frame, and counted on its second."""
        done = [
            track_id
            for track_id, (_, t) in self._waiting.items()
            if t <= counted_before or self._seen.get(track_id) != now
        ]
        return [self._event(track_id) for track_id in done]

    def _event(self, track_id: int) -> CountEvent:
        direction, t = self._waiting.pop(track_id)
        return CountEvent(self.line.id, track_id, self._labels[track_id], direction, t)

    def flush(self) -> list[CountEvent]:
        """The events still waiting for their class, with the class they have now."""
        return [self._event(track_id) for track_id in list(self._waiting)]

    def _forget(self, t: float) -> None:
        """Drop tracks the tracker has dropped: their ids never come back."""
        gone = [i for i, seen in self._seen.items() if t - seen > self.settings.max_lost_s + 1.0]
        window = self.settings.max_lost_s + SAME_CROSSING_S
        self._recent = [r for r in self._recent if t - r[0] <= window]
        for track_id in gone:
            del self._seen[track_id]
            self._labels.pop(track_id, None)
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
