"""The database schema as a list of forward migrations; `PRAGMA user_version` says how far.

A new table or column is a new migration appended to `MIGRATIONS`, never an edit of an old
one, so every existing database can be brought forward and none is ever rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlite_utils import Database


def _v1_initial(db: Database) -> None:
    db["model_versions"].create(
        {
            "id": int,
            "name": str,
            "version": str,
            "path": str,
            "parent_id": int,
            "data_md5": str,
            "params": str,
            "metrics": str,
            "created": float,
            "active": int,
        },
        pk="id",
        not_null={"name", "version", "path", "created", "active"},
        defaults={"data_md5": "", "params": "{}", "metrics": "{}", "active": 0},
        foreign_keys=[("parent_id", "model_versions", "id")],
    )
    db["model_versions"].create_index(["name", "version"], unique=True)
    db.execute(
        "CREATE UNIQUE INDEX idx_model_versions_one_active "
        "ON model_versions(active) WHERE active = 1"
    )

    db["sessions"].create(
        {
            "id": int,
            "source": str,
            "source_kind": str,
            "model_version": str,
            "started": float,
            "ended": float,
            "status": str,
            "frames": int,
            "dropped": int,
            "message": str,
        },
        pk="id",
        not_null={"source", "source_kind", "started", "status"},
        defaults={"status": "running", "frames": 0, "dropped": 0, "message": ""},
    )

    db["frame_stats"].create(
        {
            "session_id": int,
            "second": int,
            "frames": int,
            "dropped": int,
            "detections": int,
            "capture_ms": float,
            "preprocess_ms": float,
            "inference_ms": float,
            "postprocess_ms": float,
            "total_ms": float,
            "latency_ms": float,
            "max_latency_ms": float,
        },
        pk=("session_id", "second"),
        foreign_keys=[("session_id", "sessions", "id")],
    )

    db["detection_samples"].create(
        {
            "id": int,
            "session_id": int,
            "frame_index": int,
            "stream_time": float,
            "wall_time": float,
            "model_version": str,
            "count": int,
            "mean_confidence": float,
            "counts": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["detection_samples"].create_index(["session_id", "frame_index"])

    db["drift_events"].create(
        {
            "id": int,
            "session_id": int,
            "start": float,
            "end": float,
            "severity": float,
            "drivers": str,
            "frame_indices": str,
            "summary": str,
            "created": float,
        },
        pk="id",
        not_null={"start", "severity", "created"},
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["drift_events"].create_index(["session_id", "start"])

    db["jobs"].create(
        {
            "id": int,
            "kind": str,
            "state": str,
            "stage": str,
            "progress": float,
            "message": str,
            "params": str,
            "result": str,
            "created": float,
            "started": float,
            "updated": float,
            "finished": float,
        },
        pk="id",
        not_null={"kind", "state", "created"},
        defaults={"stage": "", "progress": 0.0, "message": "", "params": "{}", "result": "{}"},
    )
    db["jobs"].create_index(["state"])


def _v2_drift_decisions(db: Database) -> None:
    """What the operator decided about an alarm: approved, dismissed or expected."""
    db["drift_events"].add_column("decision", str)
    db["drift_events"].add_column("decided", float)


def _v3_cameras(db: Database) -> None:
    """Cameras as stored things, each with its own active model version and drift reference.

    The one global active version becomes the synthetic camera's (the only camera the app
    had a model for); the old `active` column stays as a record of it and is no longer read.
    """
    db["cameras"].create(
        {
            "id": int,
            "name": str,
            "source": str,
            "source_key": str,
            "kind": str,
            "line": str,
            "model_id": int,
            "reference": str,
            "detection": str,
            "created": float,
            "updated": float,
        },
        pk="id",
        not_null={"name", "source", "source_key", "kind", "line", "created"},
        defaults={"reference": "", "detection": "{}"},
        foreign_keys=[("model_id", "model_versions", "id")],
    )
    db["cameras"].create_index(["name"], unique=True)
    db["cameras"].create_index(["source_key"], unique=True)
    db["sessions"].add_column("camera_id", int)
    db.execute("DROP INDEX IF EXISTS idx_model_versions_one_active")
    active = db.execute("SELECT id, name FROM model_versions WHERE active = 1").fetchone()
    if active is not None:
        db["cameras"].insert(
            {
                "name": "synthetic",
                "source": "synthetic",
                "source_key": "synthetic",
                "kind": "synthetic",
                "line": active[1],
                "model_id": active[0],
                "created": time.time(),
                "updated": time.time(),
            }
        )


def _v4_session_owner(db: Database) -> None:
    """The machine and process that play a session, so that a later start can tell the
    session of a killed run (marked "interrupted") from one that still plays."""
    db["sessions"].add_column("host", str)
    db["sessions"].add_column("pid", int)


def _v5_counting(db: Database) -> None:
    """Each camera's counting lines and zones, and the counts they made per minute.

    `counters.points` is a JSON list of [x, y] frame pixels (a line's start and end, a zone's
    corners in order); `in_side` is a line's direction convention ("right": a crossing to the
    right of the line, seen from its start, is "in"). A `counts` row is one counter, class and
    direction over one minute (its start, epoch seconds) by one model version: a model swapped
    in mid-minute gives that minute a row per version. Rows are only ever added to (a minute
    that two runs both counted in sums both)."""
    db["counters"].create(
        {
            "id": int,
            "camera_id": int,
            "kind": str,
            "name": str,
            "points": str,
            "in_side": str,
            "created": float,
            "updated": float,
        },
        pk="id",
        not_null={"camera_id", "kind", "name", "points", "created"},
        defaults={"in_side": "right"},
        foreign_keys=[("camera_id", "cameras", "id")],
    )
    db["counters"].create_index(["camera_id", "name"], unique=True)
    db["counts"].create(
        {
            "camera_id": int,
            "counter": str,
            "class": str,
            "direction": str,
            "minute": float,
            "model_version": str,
            "count": int,
            "dwell_s": float,
        },
        pk=("camera_id", "counter", "class", "direction", "minute", "model_version"),
        not_null={"count"},
        defaults={"dwell_s": 0.0},
        foreign_keys=[("camera_id", "cameras", "id")],
    )
    db["counts"].create_index(["camera_id", "minute"])


MIGRATIONS: list[Callable[[Database], None]] = [
    _v1_initial,
    _v2_drift_decisions,
    _v3_cameras,
    _v4_session_owner,
    _v5_counting,
]
"""Migration i brings a database from version i to i + 1."""
