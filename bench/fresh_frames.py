"""How much of our detector's overhead is the frame's trip from memory.

    .venv/bin/python -m bench.fresh_frames [--out bench/results/fresh_frames.json]

`bench.int8` times our `detect` on frames decoded in advance and kept in a list (66 MB of
720p frames), so each call reads a frame the model's run has pushed out of the caches. A
player decodes a frame just before it detects on it. This times, for the traffic model and
its int8 copy at 320 and 480 on one thread, ONNX Runtime's own run on the prepared tensor
(the floor), our `detect` on the stored frame, and our `detect` on a copy of it written just
before the call (the copy untimed, as a decoder's write), in alternating rounds; then each
over the floor. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from bench.detector import environment, real_frames
from bench.int8 import MODELS
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.core.detector.runtime_choice import cpu_name

SIZES = (320, 480)
CALLS, ROUND = 120, 6  # timed calls per method and configuration; calls per method in a round
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "fresh_frames.json"
HEADER = (
    f"{'model':<26}{'imgsz':>6}{'floor ms':>10}{'stored ms':>11}{'fresh ms':>10}"
    f"{'stored/floor':>14}{'fresh/floor':>13}"
)


def time_methods(detector: OnnxDetector, frames: list[np.ndarray]) -> dict[str, float]:
    """Median milliseconds of the floor, `detect` on stored frames and on fresh copies."""
    tensors = [detector.prepare(f) for f in frames]
    fresh, scratch = np.empty_like(frames[0]), np.empty_like(frames[0])
    half = len(frames) // 2

    def floor(i: int) -> None:
        detector.run(tensors[i])

    def stored(i: int) -> None:
        detector.detect(frames[i])

    def written(i: int) -> None:
        detector.detect(fresh)

    methods = {"floor": floor, "stored": stored, "fresh": written}
    times: dict[str, list[float]] = {name: [] for name in methods}
    order = list(methods)
    for start in range(0, CALLS, ROUND):
        order = order[1:] + order[:1]
        for name in order:
            methods[name](start % len(frames))  # untimed: the switch from the other method
            for call in range(start, start + ROUND):
                i = call % len(frames)
                # Every call follows a frame's copy (the same memory traffic): `fresh` gets the
                # frame it detects on, as a decoder writes it; the others copy another frame,
                # so that their own frame stays where the last run left it.
                if name == "fresh":
                    np.copyto(fresh, frames[i])
                else:
                    np.copyto(scratch, frames[(i + half) % len(frames)])
                began = time.perf_counter()
                methods[name](i)
                times[name].append((time.perf_counter() - began) * 1e3)
    return {name: float(np.median(ms)) for name, ms in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    frames = real_frames((1280, 720))
    rows = []
    print(HEADER)
    for imgsz in SIZES:
        for path in (MODELS / "tvdesk-traffic.onnx", int8_path(MODELS / "tvdesk-traffic.onnx")):
            ms = time_methods(OnnxDetector(path, imgsz=imgsz, threads=1), frames)
            row = {
                "model": path.name,
                "imgsz": imgsz,
                "floor_ms": ms["floor"],
                "stored_ms": ms["stored"],
                "fresh_ms": ms["fresh"],
                "stored_over_floor": ms["stored"] / ms["floor"],
                "fresh_over_floor": ms["fresh"] / ms["floor"],
            }
            rows.append(row)
            print(
                f"{row['model']:<26}{imgsz:>6}{row['floor_ms']:10.2f}{row['stored_ms']:11.2f}"
                f"{row['fresh_ms']:10.2f}{row['stored_over_floor']:14.3f}"
                f"{row['fresh_over_floor']:13.3f}",
                flush=True,
            )
    results = {
        "environment": environment() | {"cpu": cpu_name()},
        "load_average_at_start": os.getloadavg(),
        "frames": len(frames),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
