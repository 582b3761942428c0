"""Tracks with stable ids, counting lines and zones, and per-minute counts; Qt-free.

`TrafficCounter` (counting.py) is what the frame loop uses: one `update` per detected frame
returns a `CountingFrame` (tracks, count events, zone occupancy, totals, finished minutes).
Its parts: `Tracker` (tracker.py: ByteTrack's association over `lap`), `CountingLine` and
`Zone` (geometry.py), `LineCounter` and `ZoneCounter` (counters.py), `MinuteCounts`
(minutes.py), all set by one `TrackingSettings` (settings.py). `truth.py` counts the true
crossings of the synthetic world, to measure the rest against.
"""

from tvdesk.core.tracking.counters import CountEvent, LineCounter, ZoneCounter, ZoneState
from tvdesk.core.tracking.counting import CountingFrame, TrafficCounter
from tvdesk.core.tracking.geometry import CountingLine, Zone
from tvdesk.core.tracking.minutes import CountRow, MinuteCounts
from tvdesk.core.tracking.settings import TrackingSettings
from tvdesk.core.tracking.tracker import Tracker
from tvdesk.core.tracking.tracks import Tracks

__all__ = [
    "CountEvent",
    "CountRow",
    "CountingFrame",
    "CountingLine",
    "LineCounter",
    "MinuteCounts",
    "Tracker",
    "TrackingSettings",
    "Tracks",
    "TrafficCounter",
    "Zone",
    "ZoneCounter",
    "ZoneState",
]
