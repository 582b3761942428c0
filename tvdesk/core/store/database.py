"""The store: one connection to the database and the tables as objects.

A `Store` belongs to the thread that opened it (SQLite connections are not shared); open one
per thread or process. The frame loop never writes through one: it uses a `StoreWriter`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.processes import process_alive
from tvdesk.core.store.cameras import Cameras
from tvdesk.core.store.connection import (
    StoreError,
    database_path,
    immediate,
    open_database,
    schema_version,
)
from tvdesk.core.store.counts import Counters, Counts
from tvdesk.core.store.records import Jobs, ModelVersions


class Store:
    """The database at `path` (default: tvdesk.db in the app data folder)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else database_path()
        self.db = open_database(self.path)
        self.sessions = Sessions(self.db)
        self.drift_events = DriftEvents(self.db)
        self.models = ModelVersions(self.db)
        self.jobs = Jobs(self.db)
        self.cameras = Cameras(self.db)
        self.counters = Counters(self.db)
        self.counts = Counts(self.db)

    @property
    def schema_version(self) -> int:
        return schema_version(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


INTERRUPTED = "interrupted"  # the status of a session whose process died before closing it


class Sessions:
    """Playback sessions, their per-second stats and their sampled detection summaries.

    A session records the host and pid that play it; starting a session first marks the
    "running" sessions of this host whose process is gone (killed, crashed) "interrupted",
    with the frames their per-second stats counted.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(
        self, source: str, source_kind: str, model_version: str, camera_id: int | None = None
    ) -> int:
        """A new running session of camera `camera_id`; `source` must already be safe to store
        (URLs masked)."""
        with immediate(self.db):
            self.mark_interrupted()
            return (
                self.db["sessions"]
                .insert(
                    {
                        "source": source,
                        "source_kind": source_kind,
                        "model_version": model_version,
                        "started": time.time(),
                        "status": "running",
                        "camera_id": camera_id,
                        "host": socket.gethostname(),
                        "pid": os.getpid(),
                    }
                )
                .last_pk
            )

    def mark_interrupted(self) -> list[int]:
        """Mark "interrupted" the running sessions whose process is gone: of this host with a
        dead pid, or from before sessions had one. Returns their ids."""
        host = socket.gethostname()
        rows = self.db.execute(
            "SELECT id, host, pid FROM sessions WHERE status = 'running'"
        ).fetchall()
        gone = [i for i, h, pid in rows if pid is None or (h == host and not process_alive(pid))]
        with immediate(self.db):
            for session_id in gone:
                self._close_interrupted(session_id)
        return gone

    def _close_interrupted(self, session_id: int) -> None:
        frames, dropped, last = self.db.execute(
            "SELECT COALESCE(SUM(frames), 0), COALESCE(SUM(dropped), 0), MAX(second) "
            "FROM frame_stats WHERE session_id = ?",
            [session_id],
        ).fetchone()
        self.db["sessions"].update(
            session_id,
            {
                "status": INTERRUPTED,
                "ended": last + 1 if last is not None else None,
                "frames": frames,
                "dropped": dropped,
                "message": "its process ended without closing it (killed, crashed or out of "
                "disk space); the frames counted are those recorded before",
            },
        )

    def end(
        self, session_id: int, status: str, frames: int, dropped: int, message: str = ""
    ) -> None:
        with immediate(self.db):
            self.get(session_id)
            self.db["sessions"].update(
                session_id,
                {
                    "ended": time.time(),
                    "status": status,
                    "frames": frames,
                    "dropped": dropped,
                    "message": message,
                },
            )

    def get(self, session_id: int) -> dict[str, Any]:
        rows = list(self.db["sessions"].rows_where("id = ?", [session_id]))
        if not rows:
            raise StoreError(f"no session with id {session_id}")
        return rows[0]

    def all(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.db["sessions"].rows_where(order_by="id DESC", limit=limit))

    def stats(self, session_id: int) -> list[dict[str, Any]]:
        """Per-second rows, oldest first."""
        return list(
            self.db["frame_stats"].rows_where("session_id = ?", [session_id], order_by="second")
        )

    def samples(self, session_id: int) -> list[dict[str, Any]]:
        """Sampled per-frame detection summaries, `counts` decoded to {class name: n}."""
        rows = self.db["detection_samples"].rows_where(
            "session_id = ?", [session_id], order_by="id"
        )
        return [{**row, "counts": json.loads(row["counts"])} for row in rows]


DECISIONS = ("approved", "dismissed", "expected")


class DriftEvents:
    """Drift alarms; an alarm is saved when raised and saved again when it settles."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, event: DriftEvent, session_id: int | None = None) -> DriftEvent:
        """Insert the event, or update it: by its id, else the session's event with its start."""
        row = {
            "session_id": session_id,
            "start": event.start,
            "end": event.end,
            "severity": event.severity,
            "drivers": json.dumps(event.drivers),
            "frame_indices": json.dumps(list(event.frame_indices)),
            "summary": event.summary,
        }
        with immediate(self.db):
            event_id = event.id or self._find(session_id, event.start)
            if event_id is None:
                event_id = self.db["drift_events"].insert({**row, "created": time.time()}).last_pk
            else:
                self.db["drift_events"].update(event_id, row)
        return DriftEvent(
            event.start,
            dict(event.drivers),
            event.severity,
            event.frame_indices,
            event.end,
            event.summary,
            id=event_id,
        )

    def decide(self, event_id: int, decision: str) -> None:
        """Record the operator's decision on an alarm ("approved", "dismissed", "expected")."""
        if decision not in DECISIONS:
            raise ValueError(f"a decision is one of {', '.join(DECISIONS)}, got {decision!r}")
        with immediate(self.db):
            self.db["drift_events"].update(event_id, {"decision": decision, "decided": time.time()})

    def camera_of(self, event_id: int) -> int | None:
        """The id of the camera whose session raised drift event `event_id`, if known."""
        row = self.db.execute(
            "SELECT s.camera_id FROM drift_events e JOIN sessions s ON s.id = e.session_id "
            "WHERE e.id = ?",
            [event_id],
        ).fetchone()
        return row[0] if row else None

    def decision(self, event_id: int) -> str | None:
        return self.db["drift_events"].get(event_id)["decision"]

    def all(self, session_id: int | None = None) -> list[DriftEvent]:
        where, args = ("session_id = ?", [session_id]) if session_id is not None else (None, None)
        return [
            _drift_event(row)
            for row in self.db["drift_events"].rows_where(where, args, order_by="start, id")
        ]

    def _find(self, session_id: int | None, start: float) -> int | None:
        row = self.db.execute(
            "SELECT id FROM drift_events WHERE session_id IS ? AND start = ?", [session_id, start]
        ).fetchone()
        return row[0] if row else None


def _drift_event(row: dict[str, Any]) -> DriftEvent:
    return DriftEvent(
        start=row["start"],
        drivers=json.loads(row["drivers"]),
        severity=row["severity"],
        frame_indices=tuple(json.loads(row["frame_indices"])),
        end=row["end"],
        summary=row["summary"],
        id=row["id"],
    )
