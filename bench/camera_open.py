"""How long opening a camera holds the window: `PlayerController.open` timed on the GUI thread.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.camera_open [--out FILE] [--runs 3]

Each run builds the app's window on a new data folder (offscreen Qt) and opens three real
clips in turn: the overhead clip (a new real camera: the traffic model is put in the slot and,
on an int8 CPU, its int8 copy and fp32 model are timed against each other), the CCTV clip (a
second camera on the same model, the choice remembered), the overhead clip again (the
reference: nothing left to load or time). For each: the milliseconds the call held the GUI
thread, the precision running when it returned and 3 s later. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.detector import environment, write_results
from tvdesk.config import RetrainSettings, Settings, project_root

CLIPS = project_root().parent / "shared" / "realdata" / "videos"
SEQUENCE = (
    ("new camera", "overhead_day_intel_car-detection.mp4"),
    ("second camera", "cctv_highway_day_bgs_video02.avi"),
    ("first camera again", "overhead_day_intel_car-detection.mp4"),
)
SETTLE_S = 3.0
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "camera_open.json"


def one_run(app) -> list[dict]:
    from jobs.retraining import RetrainApprover
    from tvdesk.ui.app import build_window, close_window

    home = Path(tempfile.mkdtemp(prefix="tvdesk-camera-open-"))
    os.environ["TVDESK_HOME"] = str(home)
    window = build_window(
        Settings(data_dir=home, inference_threads=1),
        RetrainApprover(RetrainSettings(), home, start_worker=False),
        poll_s=0.5,
    )
    window.show()
    rows = []
    try:
        for what, clip in SEQUENCE:
            began = time.perf_counter()
            opened = window.player.open(str(CLIPS / clip), loop_file=True)
            held_ms = (time.perf_counter() - began) * 1e3
            at_return = window.player.slot.current.precision
            settle = time.monotonic()
            while time.monotonic() - settle < SETTLE_S:
                app.processEvents()
                time.sleep(0.005)
            rows.append(
                {
                    "open": what,
                    "clip": clip,
                    "opened": opened,
                    "gui_thread_held_ms": round(held_ms, 1),
                    "precision_at_return": at_return,
                    "precision_3s_later": window.player.slot.current.precision,
                }
            )
    finally:
        close_window(window)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if not CLIPS.is_dir():
        sys.exit(f"{CLIPS} is missing: the benchmark opens its real clips")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    results: dict = {"environment": environment(), "load_average_at_start": os.getloadavg()}
    results["runs"] = [one_run(app) for _ in range(args.runs)]
    results["load_average_at_end"] = os.getloadavg()
    print(f"{'run':<5}{'open':<22}{'GUI thread held':>17}{'at return':>11}{'3 s later':>11}")
    for number, rows in enumerate(results["runs"], 1):
        for row in rows:
            print(
                f"{number:<5}{row['open']:<22}{row['gui_thread_held_ms']:>14.0f} ms"
                f"{row['precision_at_return']:>11}{row['precision_3s_later']:>11}"
            )
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
