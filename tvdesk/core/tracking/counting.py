"""Tracking and counting of one camera in one call per detected frame: `TrafficCounter`.

The frame loop calls `update(detections, t, clock=..., model_version=...)` after detection
and gets a `CountingFrame`: the tracks (for the overlay), this frame's count events, the
zones' occupancy, the running totals, and the rows of any minute that has just ended (for
the store's batched writer). `flush()` at the end of a stream hands over the rest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from tvdesk.core.detector.detections import Detections
from tvdesk.core.tracking.counters import CountEvent, LineCounter, ZoneCounter, ZoneState
from tvdesk.core.tracking.geometry import CountingLine, Zone
from tvdesk.core.tracking.minutes import MINUTE_S, CountRow, MinuteCounts
from tvdesk.core.tracking.settings import TrackingSettings
from tvdesk.core.tracking.tracker import Tracker, TrackSource
from tvdesk.core.tracking.tracks import Tracks

TotalKey = tuple[str, str, str]  # counter id, class name, direction


@dataclass(frozen=True)
class CountingFrame:
    """What tracking and counting made of one frame; an immutable snapshot for the UI."""

    tracks: Tracks
    events: tuple[CountEvent, ...] = ()
    zones: tuple[ZoneState, ...] = ()
    totals: Mapping[TotalKey, int] = field(default_factory=lambda: MappingProxyType({}))
    rows: tuple[CountRow, ...] = ()  # minutes that ended with this frame, for the store


class TrafficCounter:
    """A tracker with its counting lines, zones and per-minute counts, for one camera."""

    def __init__(
        self,
        lines: Iterable[CountingLine] = (),
        zones: Iterable[Zone] = (),
        settings: TrackingSettings | None = None,
        period_s: float = MINUTE_S,
        tracker: TrackSource | None = None,
    ) -> None:
        """`tracker` replaces the built-in `Tracker` (bench/counts.py runs a library's)."""
        self.settings = settings or TrackingSettings()
        self.lines = [LineCounter(line, self.settings) for line in lines]
        self.zones = [ZoneCounter(zone, self.settings) for zone in zones]
        _check_unique_ids([c.line.id for c in self.lines] + [c.zone.id for c in self.zones])
        self.tracker = tracker or Tracker(self.settings)
        self.minutes = MinuteCounts(period_s)
        self._totals: dict[TotalKey, int] = {}
        self._last: tuple[float, str] = (0.0, "")  # clock and model version of the last frame

    def update(
        self,
        detections: Detections,
        t: float,
        *,
        clock: float | None = None,
        model_version: str = "",
    ) -> CountingFrame:
        """Track and count the frame at stream time `t` (s). `clock` (s) puts its counts in
        their minute (wall time for a live camera; `t` when left out); `model_version` is
        the version of the model that made `detections`."""
        clock = t if clock is None else clock
        self._last = (clock, model_version)
        tracks = self.tracker.update(detections, t)
        events = [e for counter in self.lines for e in counter.update(tracks)]
        zones = []
        for counter in self.zones:
            state, zone_events = counter.update(tracks)
            zones.append(state)
            events += zone_events
        self._record(events, clock, model_version)
        rows = self.minutes.finished(clock)
        return CountingFrame(
            tracks, tuple(events), tuple(zones), MappingProxyType(dict(self._totals)), tuple(rows)
        )

    def set_shapes(self, lines: Iterable[CountingLine], zones: Iterable[Zone]) -> None:
        """Count on `lines` and `zones` from the next frame (an operator edited them): one
        equal to a line or zone counted so far keeps its state (the side each track was seen
        on, the stays in a zone); the tracks, the minutes in progress and the totals go on.
        The stays in a zone that goes are closed (its exits counted now)."""
        old_lines = {counter.line: counter for counter in self.lines}
        old_zones = {counter.zone: counter for counter in self.zones}
        new_lines = [old_lines.get(line) or LineCounter(line, self.settings) for line in lines]
        new_zones = [
            old_zones.pop(zone, None) or ZoneCounter(zone, self.settings) for zone in zones
        ]
        _check_unique_ids([c.line.id for c in new_lines] + [c.zone.id for c in new_zones])
        exits = [e for counter in old_zones.values() for e in counter.close(math.inf)]
        kept = {id(counter) for counter in new_lines}
        exits += [e for c in self.lines if id(c) not in kept for e in c.flush()]
        self._record(exits, *self._last)
        self.lines, self.zones = new_lines, new_zones

    @property
    def totals(self) -> Mapping[TotalKey, int]:
        """The running totals so far (a copy), the exits `flush` closed included."""
        return MappingProxyType(dict(self._totals))

    def flush(self) -> list[CountRow]:
        """Close every dwell (at the last frame's clock) and hand over every row left: call
        it when the stream ends."""
        exits = [e for counter in self.zones for e in counter.close(math.inf)]
        exits += [e for counter in self.lines for e in counter.flush()]
        self._record(exits, *self._last)
        return self.minutes.flush()

    def _record(self, events: list[CountEvent], clock: float, model_version: str) -> None:
        for event in events:
            self.minutes.add(event, clock, model_version)
            key = (event.counter_id, event.class_name, event.direction)
            self._totals[key] = self._totals.get(key, 0) + 1


def _check_unique_ids(ids: list[str]) -> None:
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(
            f"counting lines and zones need different ids; repeated: {', '.join(repeated)}"
        )
