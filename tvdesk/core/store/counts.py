"""The `counters` table (each camera's counting lines and zones) and the `counts` table (what
they counted, per minute, class, direction and model version).

Counts are written by the live session's batched writer once a minute ends (`Counts.add`
inside the writer's transaction); a row that exists already is added to, so two runs that
counted in the same minute keep both.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlite_utils import Database

from tvdesk.core.store.connection import StoreError, immediate
from tvdesk.core.store.counting_shape import CountingShape, as_points
from tvdesk.core.tracking.minutes import CountRow

UPSERT = (
    "INSERT INTO counts (camera_id, counter, class, direction, minute, model_version, count, "
    "dwell_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (camera_id, counter, class, direction, minute, model_version) DO UPDATE SET "
    "count = count + excluded.count, dwell_s = dwell_s + excluded.dwell_s"
)


class Counters:
    """Counting lines and zones by camera; a camera's names are unique ("line-1", "zone-1"...)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def of_camera(self, camera_id: int) -> list[CountingShape]:
        rows = self.db["counters"].rows_where("camera_id = ?", [camera_id], order_by="id")
        return [_shape(row) for row in rows]

    def get(self, shape_id: int) -> CountingShape:
        rows = list(self.db["counters"].rows_where("id = ?", [shape_id]))
        if not rows:
            raise StoreError(f"no counting line or zone with id {shape_id}: it was deleted")
        return _shape(rows[0])

    def add(
        self,
        camera_id: int,
        kind: str,
        points: Iterable[Sequence[float]],
        name: str | None = None,
    ) -> CountingShape:
        """Store a new line or zone (checked first: a ValueError says what is wrong with it);
        named `name`, else the next free "line-N" or "zone-N" of the camera (never one its
        stored counts already use, so old counts never mix with a new line's)."""
        with immediate(self.db):
            name = name or self._free_name(camera_id, kind)
            shape = CountingShape(camera_id, kind, name, as_points(points))
            if self.db["counters"].count_where("camera_id = ? AND name = ?", [camera_id, name]):
                raise ValueError(f"this camera has a counter named {name!r}: choose another name")
            row = _row(shape) | {"created": time.time()}
            return _shape(self.db["counters"].get(self.db["counters"].insert(row).last_pk))

    def ensure(self, camera_id: int, kind: str, points: Iterable[Sequence[float]]) -> CountingShape:
        """The camera's `kind` with these points if it has one, else a new one (`add`)."""
        points = as_points(points)
        same = [s for s in self.of_camera(camera_id) if s.same_place(kind, points)]
        return same[0] if same else self.add(camera_id, kind, points)

    def move(self, shape_id: int, points: Iterable[Sequence[float]]) -> CountingShape:
        """Give a line or zone new points (checked first; nothing changes if they are bad)."""
        with immediate(self.db):
            old = self.get(shape_id)
            moved = CountingShape(old.camera_id, old.kind, old.name, as_points(points))
            self.db["counters"].update(shape_id, _row(moved))
        return self.get(shape_id)

    def delete(self, shape_id: int) -> CountingShape:
        """Delete a line or zone; the counts it made stay, under its name."""
        with immediate(self.db):
            shape = self.get(shape_id)
            self.db["counters"].delete(shape_id)
        return shape

    def _free_name(self, camera_id: int, kind: str) -> str:
        used = {s.name for s in self.of_camera(camera_id)}
        used |= Counts(self.db).counter_names(camera_id)
        names = (f"{kind}-{n}" for n in itertools.count(1))
        return next(name for name in names if name not in used)


class Counts:
    """Per-minute counts by camera, counter, class, direction and model version."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, camera_id: int, rows: Iterable[CountRow]) -> None:
        """Add `rows` to the camera's counts (to a row that exists already, if one does)."""
        values = [
            (
                camera_id,
                r.counter_id,
                r.class_name,
                r.direction,
                r.minute,
                r.model_version,
                r.count,
                r.dwell_s,
            )
            for r in rows
        ]
        with immediate(self.db):
            self.db.conn.executemany(UPSERT, values)

    def rows(
        self, camera_id: int, since: float | None = None, until: float | None = None
    ) -> list[CountRow]:
        """The camera's rows whose minute starts from `since` to before `until` (epoch s),
        oldest first."""
        where, args = ["camera_id = ?"], [camera_id]
        if since is not None:
            where.append("minute >= ?")
            args.append(since)
        if until is not None:
            where.append("minute < ?")
            args.append(until)
        rows = self.db["counts"].rows_where(
            " AND ".join(where),
            args,
            order_by="minute, counter, class, direction, model_version",
        )
        return [_count_row(row) for row in rows]

    def counter_names(self, camera_id: int) -> set[str]:
        query = "SELECT DISTINCT counter FROM counts WHERE camera_id = ?"
        return {name for (name,) in self.db.execute(query, [camera_id]).fetchall()}


def _row(shape: CountingShape) -> dict[str, Any]:
    return {
        "camera_id": shape.camera_id,
        "kind": shape.kind,
        "name": shape.name,
        "points": json.dumps([list(p) for p in shape.points]),
        "in_side": shape.in_side,
        "updated": time.time(),
    }


def _shape(row: dict[str, Any]) -> CountingShape:
    return CountingShape(
        camera_id=row["camera_id"],
        kind=row["kind"],
        name=row["name"],
        points=as_points(json.loads(row["points"])),
        in_side=row["in_side"],
        id=row["id"],
    )


def _count_row(row: dict[str, Any]) -> CountRow:
    return CountRow(
        counter_id=row["counter"],
        class_name=row["class"],
        direction=row["direction"],
        minute=row["minute"],
        model_version=row["model_version"],
        count=row["count"],
        dwell_s=row["dwell_s"],
    )
