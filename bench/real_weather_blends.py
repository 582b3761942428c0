"""A real-weather job's fine-tune blended with the model it started from, at several shares:
what the gate sees (its held-in drifted and base splits) against the truth it cannot see
(the held-out fog and other cameras' day).

    .venv/bin/python -m bench.real_weather_blends ROOT [--weights 1,0.9,0.8,0.7,0.6,0.5]
        [--out bench/results/real_weather_blends.jsonl]

ROOT is the folder a `bench.real_weather` run kept (`/tmp/tvdesk-real-weather-*`, its `home` is
the app data folder): its job 1's fine-tune (`train/train/weights/best.pt`) is blended with the
version it started from, each blend exported to ONNX and measured with our detector on the
held-out third of `dawn_fog` and on the teacher-labelled day frames of the other shared clips
(the run's `day` folder), at 320 and 480; and, as the gate measures them, on the job's drifted
and base val splits at the camera's 480. Prints a table; appends a line to `--out`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.real_weather import FOG, RESULTS, SIZES, accuracy, split_fog
from tvdesk.training.accuracy import LabelledFolder
from tvdesk.training.blend import blend_checkpoints
from tvdesk.training.evaluation import evaluate
from tvdesk.training.export import export_onnx

GATE_SIZE = 480


def measure_blend(path: Path, fog: LabelledFolder, day: LabelledFolder, job_sets: dict) -> dict:
    onnx = export_onnx(path, GATE_SIZE, dynamic=True)
    row: dict = {}
    for size in SIZES:
        for name, data in (("fog", fog), ("day", day)):
            row[f"{name}_{size}"], row[f"{name}_ap50_{size}"] = accuracy(onnx, data, size)
    for name, data in job_sets.items():
        row[f"gate_{name}"] = round(evaluate(path, data, GATE_SIZE)["map50"], 4)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--weights", default="1,0.9,0.8,0.7,0.6,0.5,0")
    parser.add_argument("--out", type=Path, default=RESULTS / "real_weather_blends.jsonl")
    args = parser.parse_args()
    home = args.root / "home"
    start = home / "models" / "tvdesk-traffic" / "1" / "model.pt"
    tuned = home / "jobs" / "job-1" / "train" / "train" / "weights" / "best.pt"
    if not FOG.is_dir() or not tuned.is_file():
        sys.exit(f"needs ../shared/realdata and a kept real_weather run ({tuned} is missing)")
    fog = LabelledFolder.from_yaml(FOG / "data.yaml").subset(split_fog()[1])
    day = LabelledFolder.from_yaml(args.root / "day" / "data.yaml")
    job_sets = {
        "drift": home / "data" / "datasets" / "job-1" / "data.yaml",
        "base": home / "data" / "cameras" / "camera-1" / "data.yaml",
    }
    rows = []
    columns = [f"{s}_{z}" for s in ("fog", "day") for z in SIZES] + ["gate_drift", "gate_base"]
    print(f"{'share':>6}" + "".join(f"{c:>11}" for c in columns))
    with tempfile.TemporaryDirectory() as tmp:
        for weight in (float(w) for w in args.weights.split(",")):
            path = blend_checkpoints(start, tuned, weight, Path(tmp) / f"blend-{weight}.pt")
            row = {"weight": weight, **measure_blend(path, fog, day, job_sets)}
            rows.append(row)
            print(f"{weight:6.2f}" + "".join(f"{row[c]:11.3f}" for c in columns), flush=True)
    with args.out.open("a") as out:
        record = {"root": str(args.root), "rows": rows, "measured": time.strftime("%Y-%m-%d")}
        out.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
