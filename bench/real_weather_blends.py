"""A real-weather job's fine-tune blended with the model it started from, at several shares:
what the gate sees (its held-in drifted and base splits) against the truth it cannot see
(the held-out fog and other cameras' day).

    .venv/bin/python -m bench.real_weather_blends ROOT [--weights 1,0.9,0.8,0.7,0.6,0.5]
        [--out bench/results/real_weather_blends.jsonl]

ROOT is the folder a `bench.real_weather` run kept (`/tmp/tvdesk-real-weather-*`, its `home` is
the app data folder): its job 1's fine-tune (`train/train/weights/best.pt`) is blended with the
version it started from (as the job recorded it), each blend exported to ONNX and measured with
our detector on the held-out third of `dawn_fog` and on the teacher-labelled day frames of the
other shared clips (the run's `day` folder), at 320 and 480; and, as the gate measures them, on
the job's drifted and base val splits at the camera's 480. Prints a table; appends a line to
`--out`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.real_weather import FOG, RESULTS, SIZES, accuracy, split_fog
from tvdesk.core.registry import pt_path
from tvdesk.core.store import Store
from tvdesk.core.store.connection import database_path
from tvdesk.training.accuracy import LabelledFolder
from tvdesk.training.blend import blend_checkpoints
from tvdesk.training.evaluation import evaluate
from tvdesk.training.export import export_onnx

GATE_SIZE = 480


@dataclass(frozen=True)
class KeptJob:
    """Job 1 of a kept `bench.real_weather` run, as the app's store recorded it."""

    start: Path  # the checkpoint of the version the job fine-tuned
    tuned: Path  # its fine-tune, before any blend
    sets: dict[str, Path]  # the gate's drifted and base val splits
    train_params: dict  # the fine-tune's `TrainParams`, as recorded
    day: LabelledFolder  # other cameras' day frames the run labelled with the teacher


def kept_job(root: Path) -> KeptJob:
    home = root / "home"
    with Store(database_path(home)) as store:
        result = store.jobs.get(1).result
        start = pt_path(store.models.get(result["parent_id"]))
    return KeptJob(
        start=start,
        tuned=home / "jobs" / "job-1" / "train" / "train" / "weights" / "best.pt",
        sets={"drift": Path(result["data_yaml"]), "base": Path(result["base_yaml"])},
        train_params=result["train_params"],
        day=LabelledFolder.from_yaml(root / "day" / "data.yaml"),
    )


def held_out_fog() -> LabelledFolder:
    return LabelledFolder.from_yaml(FOG / "data.yaml").subset(split_fog()[1])


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
    if not FOG.is_dir() or not (args.root / "home" / "tvdesk.db").is_file():
        sys.exit(f"needs ../shared/realdata and a kept real_weather run in {args.root}")
    job, fog = kept_job(args.root), held_out_fog()
    rows = []
    columns = [f"{s}_{z}" for s in ("fog", "day") for z in SIZES] + ["gate_drift", "gate_base"]
    print(f"{'share':>6}" + "".join(f"{c:>11}" for c in columns))
    with tempfile.TemporaryDirectory() as tmp:
        for weight in (float(w) for w in args.weights.split(",")):
            path = blend_checkpoints(job.start, job.tuned, weight, Path(tmp) / f"{weight}.pt")
            row = {"weight": weight, **measure_blend(path, fog, job.day, job.sets)}
            rows.append(row)
            print(f"{weight:6.2f}" + "".join(f"{row[c]:11.3f}" for c in columns), flush=True)
    with args.out.open("a") as out:
        record = {"root": str(args.root), "rows": rows, "measured": time.strftime("%Y-%m-%d")}
        out.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
