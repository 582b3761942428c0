"""Free disk space: the check that keeps a recording from running a disk full.

OpenCV's video writer reports no write errors, and a database that meets a full disk loses
its batch, so writers look before they write: at the start and about once a second while
recording. Below `min_free_mb` (a setting) a recording does not start, or stops with a
`DiskSpaceError`; below twice that the GUI warns first.
"""

from __future__ import annotations

import errno
import logging
import shutil
import time
from pathlib import Path

logger = logging.getLogger(__name__)

WARN_FACTOR = 2.0  # warn below this many times the minimum
CHECK_EVERY_S = 1.0  # how often a recording looks again
MB = 1024 * 1024
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class DiskSpaceError(OSError):
    """A disk has too little free space to record; the message says which and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOSPC, message)

    def __str__(self) -> str:
        return self.strerror or ""


def free_mb(folder: Path) -> float:
    """Free space (MB) of the disk holding `folder` (or its nearest existing parent)."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free / MB


def megabytes(mb: float) -> str:
    """'1234 MB', or '0.8 MB' below 10."""
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError that means the disk (or the user's quota, or a file limit) is full."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


class SpaceGuard:
    """Watches the disk of `folder` for one writer: `require` before writing, `check` often
    (it looks at most once every `every_s`). `min_free_mb` 0 turns the guard off."""

    def __init__(
        self, folder: Path, min_free_mb: float, what: str, every_s: float = CHECK_EVERY_S
    ) -> None:
        self.folder = Path(folder)
        self.min_free_mb = min_free_mb
        self.what = what
        self.every_s = every_s
        self.low = False  # below the warning level at the last look
        self._next = 0.0

    def require(self) -> float:
        """Free MB now; DiskSpaceError when below the minimum."""
        free = free_mb(self.folder)
        self._next = time.monotonic() + self.every_s
        if free < self.min_free_mb:
            raise DiskSpaceError(
                f"only {megabytes(free)} free on the disk holding {self.folder} ({self.what} "
                f"needs {self.min_free_mb:g} MB, the min_free_mb setting): free some space there"
            )
        return free

    def check(self) -> bool:
        """Look again if it is time; True when the disk is found below the warning level
        (once, until it has been above it again). Raises DiskSpaceError below the minimum."""
        if not self.min_free_mb or time.monotonic() < self._next:
            return False
        free = self.require()
        was_low, self.low = self.low, free < self.min_free_mb * WARN_FACTOR
        if self.low and not was_low:
            logger.warning("%s free on the disk holding %s", megabytes(free), self.folder)
        return self.low and not was_low

    def warning(self) -> str:
        """The sentence the GUI shows while the disk is low but not yet too low."""
        return (
            f"Low disk space: {megabytes(free_mb(self.folder))} free on the disk holding "
            f"{self.folder}. Recording stops below {self.min_free_mb:g} MB: free some space."
        )
