"""`tvdesk counts CAMERA [--since 2h|TIME] [--csv FILE|-]`: what a camera's counting lines and
zones counted, per minute, class and direction, with the model version of each minute; and
the parsing of `--line` / `--zone` that `tvdesk run` shares."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from tvdesk.commands.errors import CommandLineError
from tvdesk.core.session.cameras import find_camera
from tvdesk.core.session.counting import totals_by_counter
from tvdesk.core.store import CountingShape, Store
from tvdesk.core.store.counting_shape import LINE, ZONE
from tvdesk.core.store.counts_csv import counts_csv, minute_text, write_counts_csv
from tvdesk.core.tracking.minutes import CountRow

DEFAULT_SINCE = "24h"
SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
EXAMPLES = {LINE: "--line 0,300,640,300", ZONE: "--zone 100,200,300,200,300,350,100,350"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "counts",
        help="what a camera's counting lines and zones counted",
        description="Print (or write as CSV) a camera's stored counts per minute, counting "
        "line or zone, class and direction, with the model version that counted each minute. "
        "Lines and zones are drawn in the app or given to `tvdesk run --line/--zone`.",
    )
    parser.add_argument("camera", help="the camera's name (`tvdesk cameras list`)")
    parser.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        metavar="WHEN",
        help="from how long ago (30m, 2h, 7d) or from a local date and time "
        f"(2025-05-01T08:00); default {DEFAULT_SINCE}",
    )
    parser.add_argument(
        "--csv", metavar="FILE", help="write the rows as CSV to FILE ('-': to standard output)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    since = parse_since(args.since)
    with Store() as store:
        camera = find_camera(store, args.camera)
        rows = store.counts.rows(camera.id, since=since)
    if args.csv == "-":
        sys.stdout.write(counts_csv(camera.name, rows))
    elif args.csv:
        write_csv(Path(args.csv), camera.name, rows)
        print(f"wrote {len(rows)} row(s) of camera {camera.name} to {args.csv}")
    else:
        print("\n".join(table_lines(camera.name, rows, since)))
    return 0


def parse_since(text: str, now: float | None = None) -> float:
    """Epoch seconds from a span back from now ("2h") or a local ISO date and time."""
    now = time.time() if now is None else now
    span = SPAN.match(text.strip().lower())
    if span:
        return now - float(span.group(1)) * UNITS[span.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise CommandLineError(
            f"--since {text!r}: give a span back from now like 30m, 2h or 7d, or a date and "
            "time like 2025-05-01T08:00"
        ) from None


def write_csv(path: Path, camera: str, rows: Sequence[CountRow]) -> None:
    """The CSV at `path`, complete or not at all; a sentence saying what to do if it cannot."""
    try:
        write_counts_csv(path.expanduser(), camera, rows)
    except OSError as exc:
        raise CommandLineError(
            f"cannot write {path} ({exc.strerror or exc}): choose a file in a folder you can "
            "write to"
        ) from None


def table_lines(camera: str, rows: Sequence[CountRow], since: float) -> list[str]:
    """The rows as a table, then the totals per counter, class and direction."""
    if not rows:
        return [
            f"camera {camera}: nothing counted since {minute_text(since)} (draw a counting line "
            "in the app, or play it with `tvdesk run SOURCE --line x1,y1,x2,y2`)"
        ]
    head = f"{'minute':<23}{'counter':<14}{'class':<12}{'dir':<7}{'count':>6}{'dwell s':>9}  model"
    lines = [f"camera {camera}: counts per minute since {minute_text(since)}", head]
    for r in rows:
        lines.append(
            f"{minute_text(r.minute):<23}{r.counter_id:<14}{r.class_name:<12}{r.direction:<7}"
            f"{r.count:>6}{r.dwell_s:>9.1f}  {r.model_version}"
        )
    totals: dict[tuple[str, str, str], int] = {}
    for r in rows:
        key = (r.counter_id, r.class_name, r.direction)
        totals[key] = totals.get(key, 0) + r.count
    lines.append("totals:")
    lines += [f"  {line}" for line in totals_lines(totals_by_counter(totals))]
    return lines


def totals_lines(by_counter: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    """One line per counter: 'line-1: car in 3, out 2; truck in 1'."""
    return [f"{counter}: {classes_text(classes)}" for counter, classes in by_counter.items()]


def classes_text(classes: dict[str, dict[str, int]]) -> str:
    """'car in 3, out 2; truck in 1' ('nothing counted' when empty)."""
    parts = [
        f"{name} " + ", ".join(f"{d} {n}" for d, n in directions.items())
        for name, directions in classes.items()
    ]
    return "; ".join(parts) or "nothing counted"


def parse_shape(kind: str, text: str, frame_size: tuple[int, int] | None = None) -> CountingShape:
    """A `--line x1,y1,x2,y2` or `--zone x,y,x,y,x,y...` value, checked (frame pixels, inside
    the frame when its size is known); CommandLineError with an example if it is wrong."""
    option = f"--{kind} {text}"
    try:
        numbers = [float(v) for v in text.split(",")]
    except ValueError:
        numbers = []
    wanted = len(numbers) == 4 if kind == LINE else len(numbers) >= 2 and len(numbers) % 2 == 0
    if not wanted:
        what = "x1,y1,x2,y2" if kind == LINE else "x,y pairs of its corners in order"
        raise CommandLineError(f"{option}: give {what} in frame pixels, e.g. {EXAMPLES[kind]}")
    points = list(zip(numbers[::2], numbers[1::2], strict=True))
    try:
        shape = CountingShape(0, kind, kind, points)
    except ValueError as exc:
        raise CommandLineError(f"{option}: {exc}") from None
    _check_inside(option, points, frame_size)
    return shape


def _check_inside(
    option: str, points: list[tuple[float, float]], size: tuple[int, int] | None
) -> None:
    if size is None:
        return
    width, height = size
    outside = [(x, y) for x, y in points if not (0 <= x <= width and 0 <= y <= height)]
    if outside:
        x, y = outside[0]
        raise CommandLineError(
            f"{option}: the point ({x:g}, {y:g}) is outside the {width}x{height} frame; "
            "give frame pixels, x from 0 to the width and y from 0 (top) to the height"
        )
