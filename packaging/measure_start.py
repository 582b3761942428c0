"""Measure the frozen app's cold start: from launching `tvdesk` to its first detected frame.

    python packaging/measure_start.py [--runs 5] [--bundle build/pyinstaller/dist/tvdesk]

Each run starts `tvdesk run synthetic:day --seconds 3 --json` from the built bundle in a new,
empty data folder (what a new user's first start does: create the database, load the bundled
model, render the synthetic camera) with a bare environment (no Python variables, no venv on
PATH), and reads the wall-clock time at which the first frame came out of the detector from the
`detection_samples` row the run stored. Prints a table and writes build/pyinstaller/start.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "build" / "pyinstaller" / "dist" / "tvdesk"
RESULTS = ROOT / "build" / "pyinstaller" / "start.json"


def frozen_env(home: Path) -> dict[str, str]:
    """The environment of a user without Python: nothing of this checkout's interpreter."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "TVDESK_", "QT_", "YOLO_"))
    }
    (home / "user").mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home / "user"),
        TVDESK_HOME=str(home),
        QT_QPA_PLATFORM="offscreen",
        PATH="/usr/bin:/bin",
    )
    return env


def run_frozen(bundle: Path, home: Path, *args: str, timeout: float = 120.0):
    """Run the frozen `tvdesk` with `args` for the data folder `home`; the finished process."""
    return subprocess.run(
        [str(bundle / "tvdesk"), *args],
        env=frozen_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def first_frame_time(database: Path) -> float:
    """Wall-clock time of the first frame any session of `database` stored a sample of."""
    with sqlite3.connect(database) as db:
        (first,) = db.execute("SELECT min(wall_time) FROM detection_samples").fetchone()
    if first is None:
        raise RuntimeError(f"{database} holds no detected frame")
    return first


def cold_start(bundle: Path) -> dict:
    """One launch in a fresh data folder: seconds to the first detected frame, and the run."""
    with tempfile.TemporaryDirectory(prefix="tvdesk-start-") as folder:
        home = Path(folder)
        load = os.getloadavg()[0]
        launched = time.time()
        done = run_frozen(bundle, home, "run", "synthetic:day", "--seconds", "3", "--json")
        if done.returncode != 0:
            raise RuntimeError(f"tvdesk run failed ({done.returncode}): {done.stderr[-2000:]}")
        summary = json.loads(done.stdout)
        return {
            "first_frame_s": round(first_frame_time(Path(summary["database"])) - launched, 3),
            "frames": summary["frames"],
            "detections": sum(summary["detections"].values()),
            "load_before": round(load, 2),  # other processes compete for the same cores
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bundle", type=Path, default=BUNDLE)
    args = parser.parse_args(argv)
    runs = [cold_start(args.bundle) for _ in range(args.runs)]
    times = [r["first_frame_s"] for r in runs]
    print(f"run  to first detected frame  frames  boxes  load average ({os.cpu_count()} cores)")
    for n, run in enumerate(runs, 1):
        seconds, frames, boxes = run["first_frame_s"], run["frames"], run["detections"]
        print(f"{n:>3}  {seconds:>24.2f} s  {frames:>6}  {boxes:>5}  {run['load_before']:>5.2f}")
    result = {"runs": runs, "first_s": times[0], "median_s": statistics.median(times)}
    print(f"first run {times[0]:.2f} s, median {result['median_s']:.2f} s (target <= 5 s)")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
