"""Follows the local worker's log file and sorts its lines by the job they mention, for the
jobs panel's log view. Reads only what was appended since the last look, a bounded amount;
lines are kept as "HH:MM:SS  message", like the panel's own record of the job's messages."""

from __future__ import annotations

import re
from collections import defaultdict, deque
from pathlib import Path

MAX_READ = 256 * 1024  # bytes read per look; a burst beyond it is caught up on the next looks
LINES_PER_JOB = 500
JOB_PATTERN = re.compile(r"\bjob (\d+)\b")
# The worker's format: "2026-11-28 13:43:47,203 INFO tvdesk.retrain.runner: job 1: label"
RECORD = re.compile(r"^\d{4}-\d\d-\d\d (\d\d:\d\d:\d\d)[,.]\d+ (\w+) [\w.]+: (.*)$")


class WorkerLogTail:
    """The lines of `path` that name a job ("job 3: train"), kept per job, newest last."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._lines: defaultdict[int, deque[str]] = defaultdict(lambda: deque(maxlen=LINES_PER_JOB))

    def poll(self) -> bool:
        """Read what was appended; True if any job got new lines."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return False
        if size < self._offset:  # the log was rotated or truncated: start over
            self._offset, self._partial = 0, b""
        if size == self._offset:
            return False
        with self.path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read(MAX_READ)
        self._offset += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        found = False
        for raw in complete:
            line = raw.decode("utf-8", "replace").rstrip()
            for match in set(JOB_PATTERN.findall(line)):
                self._lines[int(match)].append(compact(line))
                found = True
        return found

    def lines(self, job_id: int) -> list[str]:
        return list(self._lines.get(job_id, ()))


def compact(line: str) -> str:
    """'13:43:47  job 1: label' from a worker record (its level kept unless INFO)."""
    match = RECORD.match(line)
    if match is None:
        return line
    clock, level, message = match.groups()
    return f"{clock}  {message}" if level == "INFO" else f"{clock}  {level} {message}"
