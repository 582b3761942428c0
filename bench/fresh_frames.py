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
import os
import sys
from pathlib import Path

import numpy as np

from bench.detector import environment, real_frames, write_results
from bench.int8 import MODELS, time_rounds
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.core.detector.runtime_choice import cpu_name

SIZES = (320, 480)
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "fresh_frames.json"
HEADER = (
    f"{'model':<26}{'imgsz':>6}{'floor ms':>10}{'stored ms':>11}{'fresh ms':>10}"
    f"{'stored/floor':>14}{'fresh/floor':>13}"
)


def time_methods(detector: OnnxDetector, frames: list[np.ndarray]) -> dict[str, float]:
    """Median milliseconds of the floor, `detect` on stored frames and on fresh copies."""
    tensors = {id(f): detector.prepare(f) for f in frames}
    fresh, scratch = np.empty_like(frames[0]), np.empty_like(frames[0])
    half = len(frames) // 2

    def copy_a_frame(name: str, i: int) -> None:
        """Every call follows a frame's copy (the same memory traffic): `fresh` gets the frame
        it detects on, as a decoder writes it; the others copy another frame, so that their
        own frame stays where the last run left it."""
        if name == "fresh":
            np.copyto(fresh, frames[i])
        else:
            np.copyto(scratch, frames[(i + half) % len(frames)])

    methods = {
        "floor": lambda f: detector.run(tensors[id(f)]),
        "stored": detector.detect,
        "fresh": lambda _: detector.detect(fresh),
    }
    times = time_rounds(methods, frames, before=copy_a_frame)
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
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
