"""Per-minute counts for the store: count events summed by minute, handed over once finished.

A row is keyed by (counter id, class name, direction, minute start, model version): a model
swapped in mid-minute gives that minute one row per version, so the swap shows in the
counts. The minute is taken on whichever clock the caller passes (wall time in epoch seconds
for a live camera, stream time for a file). Rows leave memory only when their minute has
ended, in one batch per minute, for a batched writer (no commit per frame). A kill loses the
minute in progress, and nothing else once the writer has committed what it was handed.
A minute with no event has no row: the session's running time tells a zero from no data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tvdesk.core.tracking.counters import CountEvent

MINUTE_S = 60.0


@dataclass(frozen=True)
class CountRow:
    """The count of one counter, class and direction over one minute, by one model version."""

    counter_id: str
    class_name: str
    direction: str
    minute: float  # the minute's start, in seconds of the caller's clock
    model_version: str
    count: int
    dwell_s: float = 0.0  # summed dwell of the zone exits counted; 0 for lines and entries


Key = tuple[str, str, str, float, str]


class MinuteCounts:
    """Sums events into minutes of `period_s` seconds (60; shorter only for tests)."""

    def __init__(self, period_s: float = MINUTE_S) -> None:
        if period_s <= 0:
            raise ValueError(f"period_s must be more than 0, got {period_s}")
        self.period_s = period_s
        self._open: dict[Key, tuple[int, float]] = {}

    def minute_of(self, clock: float) -> float:
        """The start of the minute that `clock` (s) falls in."""
        return math.floor(clock / self.period_s) * self.period_s

    def add(self, event: CountEvent, clock: float, model_version: str) -> None:
        """Count `event`, which happened at `clock` (s), for the model that saw it."""
        key = (
            event.counter_id,
            event.class_name,
            event.direction,
            self.minute_of(clock),
            model_version,
        )
        count, dwell = self._open.get(key, (0, 0.0))
        self._open[key] = (count + 1, dwell + event.dwell_s)

    def finished(self, clock: float) -> list[CountRow]:
        """The rows of every minute that ended at or before `clock`, taken out of memory."""
        current = self.minute_of(clock)
        return self._take([key for key in self._open if key[3] < current])

    def flush(self) -> list[CountRow]:
        """Every row, the minute in progress included (at the end of a stream)."""
        return self._take(list(self._open))

    def _take(self, keys: list[Key]) -> list[CountRow]:
        rows = [CountRow(*key, *self._open.pop(key)) for key in sorted(keys, key=_order)]
        return rows


def _order(key: Key) -> tuple:
    counter, name, direction, minute, version = key
    return (minute, counter, name, direction, version)
