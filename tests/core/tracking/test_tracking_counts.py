"""Zones (occupancy, dwell), bad lines and zones, and per-minute rows tagged by model version."""

from __future__ import annotations

import numpy as np
import pytest

from tvdesk.core.detector.detections import Detections
from tvdesk.core.tracking import (
    CountEvent,
    CountingLine,
    MinuteCounts,
    TrafficCounter,
    Zone,
)

NAMES = ("car", "truck", "bus", "motorcycle")
SQUARE = Zone("bay", ((100, 100), (300, 100), (300, 300), (100, 300)))


def frame_of(boxes: list[tuple], classes: list[int]) -> Detections:
    return Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.full(len(boxes), 0.9, np.float32),
        np.array(classes, np.int64),
        NAMES,
    )


def test_a_zone_counts_the_tracks_inside_by_class_and_their_dwell():
    counter = TrafficCounter(zones=[SQUARE])
    parked = [(150, 150, 190, 200), (200, 220, 240, 250), (400, 150, 440, 200)]  # third outside
    for i in range(31):
        state = counter.update(frame_of(parked, [0, 1, 0]), i / 10).zones[0]
    assert state.inside == {"car": 1, "truck": 1}
    # from the second frame, when the tracks are confirmed (confirm_hits 2), to 3.0 s
    assert sorted(state.dwell_s.values()) == pytest.approx([2.9, 2.9])


def test_a_zone_counts_an_entry_once_and_an_exit_with_its_dwell():
    counter = TrafficCounter(zones=[SQUARE], period_s=60.0)
    events = []
    for i in range(60):  # bottom edge 10 px a frame from y 60: in the zone (y 100-300) 0.4-2.3 s
        y = 60 + 10 * i
        events += counter.update(frame_of([(180, y - 30, 220, y)], [2]), i / 10).events
    assert [(e.direction, e.class_name) for e in events] == [("enter", "bus"), ("exit", "bus")]
    assert events[1].dwell_s == pytest.approx(1.9)
    rows = counter.flush()
    assert [(r.direction, r.count) for r in rows] == [("enter", 1), ("exit", 1)]
    assert rows[1].dwell_s == pytest.approx(events[1].dwell_s)


def test_flush_closes_the_dwell_of_tracks_still_in_a_zone():
    counter = TrafficCounter(zones=[SQUARE])
    for i in range(20):
        counter.update(frame_of([(150, 150, 190, 200)], [0]), i / 10)
    rows = counter.flush()
    assert [(r.direction, r.count, r.dwell_s) for r in rows] == [
        ("enter", 1, 0.0),
        ("exit", 1, pytest.approx(1.8)),  # confirmed at 0.1 s, last seen at 1.9 s
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CountingLine("a", 10, 10, 10, 10), "line 'a' has zero length"),
        (lambda: CountingLine("a", 10, float("nan"), 20, 10), "finite"),
        (lambda: Zone("z", ((0, 0), (10, 0))), "zone 'z' has 2 point.s.: a zone needs 3"),
        (lambda: Zone("z", ((0, 0), (10, 0), (20, 0))), "zone 'z' has no area"),
        (
            lambda: Zone("z", ((0, 0), (10, 10), (10, 0), (0, 10))),
            r"zone 'z' crosses itself \(edge 1 crosses edge 3\)",
        ),
        (
            lambda: TrafficCounter(
                [CountingLine("a", 0, 0, 9, 9)], [SQUARE, Zone("a", SQUARE.points)]
            ),
            "need different ids; repeated: a",
        ),
    ],
)
def test_bad_lines_and_zones_are_refused_with_a_sentence(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_concave_zone_is_accepted_and_its_notch_is_outside():
    notched = Zone(
        "u", ((0, 0), (30, 0), (30, 30), (20, 30), (20, 10), (10, 10), (10, 30), (0, 30))
    )
    inside = notched.contains(np.array([[5.0, 20.0], [15.0, 20.0], [25.0, 20.0], [15.0, 5.0]]))
    assert inside.tolist() == [True, False, True, True]


def event(counter: str, name: str, direction: str) -> CountEvent:
    return CountEvent(counter, 1, name, direction, 0.0)


def test_minutes_come_out_once_finished_and_carry_the_model_version():
    minutes = MinuteCounts()
    t0 = 28_333_334 * 60.0 + 40.0  # wall clock (epoch s, 2023-11-14), 40 s into a minute
    minutes.add(event("road", "car", "in"), t0, "v1")
    minutes.add(event("road", "car", "in"), t0 + 5, "v1")
    minutes.add(event("road", "car", "in"), t0 + 10, "v2")  # the model was swapped
    minutes.add(event("road", "bus", "out"), t0 + 19, "v2")
    assert minutes.finished(t0 + 19.5) == [], "the minute is still going on"
    minutes.add(event("road", "car", "in"), t0 + 21, "v2")  # the next minute
    rows = minutes.finished(t0 + 21)
    assert [(r.minute, r.class_name, r.direction, r.model_version, r.count) for r in rows] == [
        (t0 - 40, "bus", "out", "v2", 1),
        (t0 - 40, "car", "in", "v1", 2),
        (t0 - 40, "car", "in", "v2", 1),
    ]
    assert minutes.finished(t0 + 30) == [], "rows are handed over once"
    assert [(r.minute, r.count) for r in minutes.flush()] == [(t0 + 20, 1)]
    assert minutes.flush() == []


def test_the_counter_hands_finished_minutes_to_the_frame_that_ends_them():
    line = CountingLine("road", 0, 200, 640, 200)
    counter = TrafficCounter([line], period_s=2.0)
    rows_by_frame = []
    for i in range(40):  # a car crosses at about 1 s; the 2 s minute ends at frame 20
        y = 150 + 5 * i
        frame = counter.update(frame_of([(300, y - 30, 340, y)], [0]), i / 10, model_version="v7")
        rows_by_frame.append(frame.rows)
    assert [i for i, rows in enumerate(rows_by_frame) if rows] == [20]
    (row,) = rows_by_frame[20]
    assert (row.counter_id, row.class_name, row.direction, row.minute, row.model_version) == (
        "road",
        "car",
        "in",
        0.0,
        "v7",
    )
    assert counter.flush() == []
