"""Whether a process recorded by pid still runs: how a later start tells a killed run's
leftovers (a session, a job, a worker's pid file) from the work of a live process."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """True if a process with `pid` runs on this machine (or may: off POSIX it cannot be
    asked without harm, as `os.kill` there ends the process)."""
    if pid <= 0:
        return False
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
