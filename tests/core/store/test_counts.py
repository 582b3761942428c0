"""Counting lines, zones and per-minute counts in a real SQLite file: the forward migration,
names, bad shapes refused with nothing stored, rows summed when two runs count in one minute,
and counts that survive closing and reopening the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from tvdesk.core.store import MIGRATIONS, Camera, Store, StoreWriter
from tvdesk.core.tracking import CountRow

LINE = ((0.0, 100.0), (320.0, 100.0))
SQUARE = ((10.0, 10.0), (60.0, 10.0), (60.0, 60.0), (10.0, 60.0))


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "tvdesk.db") as store:
        yield store


def camera(store: Store, name: str = "gate") -> Camera:
    return store.cameras.add(Camera(name, f"{name}.mp4", f"file:/{name}.mp4", "file", "traffic"))


def row(minute: float, count: int = 1, version: str = "v1", **kw) -> CountRow:
    values = dict(counter_id="line-1", class_name="car", direction="in") | kw
    return CountRow(minute=minute, model_version=version, count=count, **values)


def test_a_schema_4_database_gains_counting_and_keeps_its_cameras(tmp_path):
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    for migration in MIGRATIONS[:4]:
        migration(db)
    db.execute("PRAGMA user_version = 4")
    db["cameras"].insert(
        {"name": "gate", "source": "g", "source_key": "file:/g", "kind": "file", "line": "t"}
        | {"created": 1.0}
    )
    db.conn.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS) == 5
        gate = store.cameras.named("gate")
        assert store.counters.of_camera(gate.id) == [] and store.counts.rows(gate.id) == []
        assert store.counters.add(gate.id, "line", LINE).name == "line-1"


def test_lines_and_zones_are_named_per_camera_found_again_moved_and_deleted(store):
    gate, north = camera(store), camera(store, "north")
    line = store.counters.add(gate.id, "line", LINE)
    zone = store.counters.add(gate.id, "zone", SQUARE)
    assert (line.name, zone.name, line.in_side) == ("line-1", "zone-1", "right")
    assert store.counters.add(north.id, "line", LINE).name == "line-1"  # per camera
    assert store.counters.ensure(gate.id, "line", [list(p) for p in LINE]) == line  # not twice
    moved = store.counters.move(line.id, ((0, 120), (320, 120)))
    assert moved.points == ((0.0, 120.0), (320.0, 120.0)) and moved.name == "line-1"
    store.counters.delete(zone.id)
    assert store.counters.of_camera(gate.id) == [moved]
    with pytest.raises(ValueError, match="has a counter named 'line-1'"):
        store.counters.add(gate.id, "line", LINE, name="line-1")


def test_a_new_line_never_takes_the_name_of_one_whose_counts_are_stored(store):
    gate = camera(store)
    first = store.counters.add(gate.id, "line", LINE)
    store.counts.add(gate.id, [row(60.0)])
    store.counters.delete(first.id)
    assert store.counters.add(gate.id, "line", LINE).name == "line-2"
    assert {r.counter_id for r in store.counts.rows(gate.id)} == {"line-1"}  # its counts stay


@pytest.mark.parametrize(
    ("kind", "points", "says"),
    [
        ("line", ((5, 5), (5, 5)), "has zero length"),
        ("line", ((5, 5), (9, 9), (12, 3)), "a line has 2"),
        ("zone", ((0, 0), (10, 0)), "a zone needs 3 or more corners"),
        ("zone", ((0, 0), (10, 10), (10, 0), (0, 10)), "crosses itself"),
        ("circle", ((0, 0), (10, 10)), "a line or a zone"),
    ],
)
def test_a_bad_line_or_zone_is_a_sentence_and_nothing_is_stored(store, kind, points, says):
    gate = camera(store)
    line = store.counters.add(gate.id, "line", LINE)
    with pytest.raises(ValueError, match=says):
        store.counters.add(gate.id, kind, points)
    if kind == "line":
        with pytest.raises(ValueError, match=says):
            store.counters.move(line.id, points)
    assert store.counters.of_camera(gate.id) == [line]  # unchanged


def test_rows_of_one_minute_are_added_to_and_read_back_by_time(store):
    gate, north = camera(store), camera(store, "north")
    store.counts.add(gate.id, [row(60.0, 2), row(120.0, 1), row(120.0, 1, version="v2")])
    store.counts.add(gate.id, [row(60.0, 3)])  # a second run counting in the same minute
    store.counts.add(north.id, [row(60.0, 7)])
    rows = store.counts.rows(gate.id)
    assert [(r.minute, r.model_version, r.count) for r in rows] == [
        (60.0, "v1", 5),
        (120.0, "v1", 1),
        (120.0, "v2", 1),  # a swap mid-minute: a row per version
    ]
    assert [r.minute for r in store.counts.rows(gate.id, since=100.0)] == [120.0, 120.0]
    assert [r.minute for r in store.counts.rows(gate.id, until=100.0)] == [60.0]
    store.cameras.forget(gate.id)  # its lines and counts go with it; the other's stay
    assert [r.count for r in store.counts.rows(north.id)] == [7]
    assert store.db["counts"].count == 1


def test_counts_written_by_the_batched_writer_survive_a_restart(tmp_path):
    path = tmp_path / "tvdesk.db"
    with Store(path) as store:
        gate = camera(store)
    with StoreWriter(path) as writer:
        writer.call(lambda s: s.counts.add(gate.id, [row(60.0, 4), row(60.0, 2, direction="out")]))
    with Store(Path(path)) as store:  # a new connection, as after a restart
        counts = {(r.direction, r.count) for r in store.counts.rows(gate.id)}
    assert counts == {("in", 4), ("out", 2)}
