"""Choose the real-camera default input size of the traffic model by measurement.

    python -m bench.traffic_input_size [--model resources/models/tvdesk-traffic.onnx]

For each input size: recall, precision and mAP50 on the labelled real set (dawn_fog) at the
player's confidence threshold; vehicles (car, bus, truck, motorcycle) found per frame on every
shared real clip (every Nth frame); and ms per frame of `OnnxDetector.detect` with 1 thread,
timed in rounds that rotate the order of the sizes so that load on this shared machine hits
them alike (the ratios to the smallest size are the figures to compare). Prints a table and
writes bench/results/traffic_input_size.json. Needs ../shared/realdata and the `train` extra.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from tvdesk.config import Settings, project_root
from tvdesk.core.detector import OnnxDetector
from tvdesk.training.accuracy import LabelledFolder, measure
from tvdesk.training.traffic_model import (
    EVAL_DATA,
    TRAFFIC_CLASSES,
    VIDEOS,
    read_frames,
    spread_indices,
)

SIZES = (320, 416, 480, 544, 640)
VEHICLES = ("car", "bus", "truck", "motorcycle")
CLIP_STRIDE = 25  # every 25th frame: one a second at 25 fps
TIMING_FRAMES_PER_CLIP = 4
ROUNDS = 8
DEFAULT_MODEL = project_root() / "resources" / "models" / "tvdesk-traffic.onnx"
DEFAULT_OUT = project_root() / "bench" / "results" / "traffic_input_size.json"


@dataclass(frozen=True)
class SizeRow:
    """What one input size gives and costs."""

    imgsz: int
    input_16x9: str  # the model input of a 16:9 frame, e.g. 320x192
    recall: float
    precision: float
    map50: float
    ap50: dict[str, float]
    vehicles_per_frame: dict[str, float]  # clip -> mean vehicles found per frame
    ms_median: float
    ms_p95: float
    ms_over_smallest: float


def clip_frames(videos: Path, stride: int) -> dict[str, list[np.ndarray]]:
    """Every `stride`-th frame of each clip in `videos`."""
    frames = {}
    for video in sorted(videos.iterdir()):
        capture = cv2.VideoCapture(str(video))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        frames[video.name] = read_frames(video, range(0, total, stride))
    return frames


def vehicles_per_frame(detector: OnnxDetector, frames: Sequence[np.ndarray]) -> float:
    """Mean number of vehicle boxes the detector keeps per frame."""
    vehicle_ids = [detector.names.index(n) for n in VEHICLES if n in detector.names]
    found = [np.isin(detector.detect(f).class_ids, vehicle_ids).sum() for f in frames]
    return float(np.mean(found)) if found else 0.0


def time_sizes(
    methods: dict[int, Callable[[np.ndarray], object]], frames: Sequence[np.ndarray], rounds: int
) -> dict[int, np.ndarray]:
    """ms per call of each method; each round runs every method over all frames, the order
    rotated from one round to the next."""
    order, times = list(methods), {size: [] for size in methods}
    for frame in frames[:2]:
        for method in methods.values():
            method(frame)  # warm up every size
    for _ in range(rounds):
        order = order[1:] + order[:1]
        for size in order:
            for frame in frames:
                began = time.perf_counter()
                methods[size](frame)
                times[size].append((time.perf_counter() - began) * 1e3)
    return {size: np.array(values) for size, values in times.items()}


def measure_sizes(model: Path, sizes: Sequence[int], stride: int, rounds: int) -> list[SizeRow]:
    """One row per input size; accuracy with 2 threads (results do not depend on it), timing
    with 1 (the player's default)."""
    conf = Settings().confidence
    data = LabelledFolder.from_yaml(EVAL_DATA)
    clips = clip_frames(VIDEOS, stride)
    timing_frames = [
        frames[i]
        for frames in clips.values()
        for i in spread_indices(len(frames), TIMING_FRAMES_PER_CLIP)
    ]
    single = {s: OnnxDetector(model, imgsz=s, conf=conf, threads=1) for s in sizes}
    times = time_sizes({s: d.detect for s, d in single.items()}, timing_frames, rounds)
    smallest = float(np.median(times[min(sizes)]))
    rows = []
    for size in sizes:
        detector = OnnxDetector(model, imgsz=size, conf=conf, threads=2)
        accuracy = measure(detector.detect, detector.names, data, classes=TRAFFIC_CLASSES)
        rows.append(
            SizeRow(
                imgsz=size,
                input_16x9="x".join(map(str, detector.letterbox_for((720, 1280)).input_hw[::-1])),
                recall=round(accuracy.recall, 4),
                precision=round(accuracy.precision, 4),
                map50=round(accuracy.map50, 4),
                ap50={k: round(v, 4) for k, v in accuracy.ap50.items()},
                vehicles_per_frame={
                    clip: round(vehicles_per_frame(detector, frames), 2)
                    for clip, frames in clips.items()
                },
                ms_median=round(float(np.median(times[size])), 2),
                ms_p95=round(float(np.percentile(times[size], 95)), 2),
                ms_over_smallest=round(float(np.median(times[size])) / smallest, 3),
            )
        )
        print(format_row(rows[-1], list(clips)), flush=True)
    return rows


def header(clips: Sequence[str]) -> str:
    short = "".join(f"{_short(c):>10}" for c in clips)
    return (
        f"{'imgsz':>5}{'16:9 in':>9}{'recall':>8}{'prec':>7}{'mAP50':>7}{short}"
        f"{'ms med':>8}{'ms p95':>8}{'x small':>8}"
    )


def format_row(row: SizeRow, clips: Sequence[str]) -> str:
    counts = "".join(f"{row.vehicles_per_frame[c]:>10.2f}" for c in clips)
    return (
        f"{row.imgsz:>5}{row.input_16x9:>9}{row.recall:>8.3f}{row.precision:>7.3f}"
        f"{row.map50:>7.3f}{counts}{row.ms_median:>8.1f}{row.ms_p95:>8.1f}"
        f"{row.ms_over_smallest:>8.2f}"
    )


def _short(clip: str) -> str:
    """A column title for a clip: its first two words (e.g. dashcam_night)."""
    return "_".join(Path(clip).stem.split("_")[:2])[:9]


def environment() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), ""
    )
    return {
        "cpu": cpu or platform.processor(),
        "cpus": os.cpu_count(),
        "onnxruntime": ort.__version__,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _cpuinfo() -> list[str]:
    path = Path("/proc/cpuinfo")
    return path.read_text().splitlines() if path.exists() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="dynamic ONNX model")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--stride", type=int, default=CLIP_STRIDE, help="every Nth clip frame")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timing rounds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not EVAL_DATA.exists() or not VIDEOS.is_dir():
        print(f"needs the shared real data ({EVAL_DATA.parent.parent.parent}); it is absent")
        return 2
    started = environment()
    clips = sorted(p.name for p in VIDEOS.iterdir())
    print(
        f"{args.model.name}, confidence {Settings().confidence}, vehicles per frame of "
        f"every {args.stride}th frame, ms with 1 thread\n{header(clips)}"
    )
    rows = measure_sizes(args.model, args.sizes, args.stride, args.rounds)
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": args.model.name,
        "confidence": Settings().confidence,
        "data": EVAL_DATA.parent.name,
        "clip_stride": args.stride,
        "timing": {
            "threads": 1,
            "rounds": args.rounds,
            "frames_per_round": len(clips) * TIMING_FRAMES_PER_CLIP,
        },
        "environment_at_start": started,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "rows": [asdict(r) for r in rows],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
