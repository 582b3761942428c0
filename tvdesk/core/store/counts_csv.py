"""Stored counts as CSV, one row per minute, counter, class, direction and model version: what
`tvdesk counts --csv` and the Counts panel's Export CSV write (a file appears whole or not at
all)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from tvdesk.core.atomic import write_text
from tvdesk.core.tracking.minutes import CountRow

CSV_COLUMNS = (
    "camera",
    "minute",
    "minute_epoch",
    "counter",
    "class",
    "direction",
    "count",
    "dwell_s",
    "model_version",
)


def minute_text(epoch: float) -> str:
    """A minute's start as local ISO 8601 with its UTC offset, e.g. 2025-05-01T08:31+02:00."""
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="minutes")


def counts_csv(camera: str, rows: Iterable[CountRow]) -> str:
    """The rows as CSV text with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            (
                camera,
                minute_text(r.minute),
                f"{r.minute:.0f}",
                r.counter_id,
                r.class_name,
                r.direction,
                r.count,
                f"{r.dwell_s:.1f}",
                r.model_version,
            )
        )
    return out.getvalue()


def write_counts_csv(path: Path, camera: str, rows: Iterable[CountRow]) -> None:
    """The rows as a CSV file at `path`, written atomically; OSError if it cannot be."""
    write_text(path, counts_csv(camera, rows))
