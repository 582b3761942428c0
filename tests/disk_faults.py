"""Disk faults for the fault-injection tests: a real tmpfs of a few MB (as root), filled to the
last byte when asked; a per-process file size limit (any user: writes past it fail with EFBIG,
as on a full disk); a real database with one page overwritten; and the `tvdesk` command in its
own process, so its stderr is exactly what a user sees."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest


def tvdesk(
    *args: str, timeout: float = 90, file_size_limit: int | None = None, **env: str
) -> subprocess.CompletedProcess:
    """Run the real command; `file_size_limit` (bytes) caps every file it writes."""

    def limit() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(
        [sys.executable, "-m", "tvdesk.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
        preexec_fn=limit,
    )


def error_line(result: subprocess.CompletedProcess) -> str:
    """The command's last stderr line, checked to be its one `tvdesk: error:` line."""
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("tvdesk: error: "), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return lines[-1]


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "3m") mounted at `path` while the block runs; skips the test
    where that needs root or mounting is not allowed (CI in a container)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root; the file-size-limit variant covers the logic")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def fill(folder: Path) -> Path:
    """Fill the disk holding `folder` to the last byte; the filler file."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(chunk)
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0")
    return filler


def noise_video(path: Path, frames: int, size: tuple[int, int] = (640, 480)) -> Path:
    """A real MJPG file of random frames: it compresses badly, so a video of it is large."""
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, size)
    assert writer.isOpened()
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


def corrupt_table_page(db_path: Path, table: str) -> None:
    """Overwrite the first bytes of `table`'s root page, as a bad sector would."""
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()
    db.close()
    with open(db_path, "r+b") as f:
        f.seek((root[0] - 1) * page_size)
        f.write(b"\xa5" * 64)
