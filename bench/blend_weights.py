"""A fine-tune blended with its starting point at several shares: held-out night and day mAP50
and the base val split the promotion gate reads.

    .venv/bin/python -m bench.blend_weights START.pt TUNED.pt BASE.yaml [--weights 1,0.9,0.6]

START is the active model the job fine-tuned (`models/<name>/<v>/model.pt` in the app data
folder), TUNED its candidate (`jobs/job-N/train/train/weights/best.pt`), and the base
dataset (BASE.yaml: `data/base/data.yaml`) the gate measured. Prints a table; appends a line to
bench/results/blend_weights.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.fine_tune_recipes import held_out
from tvdesk.training.blend import blend_checkpoints
from tvdesk.training.evaluation import evaluate
from tvdesk.training.offline import ultralytics_offline

OUT = Path(__file__).resolve().parent / "results" / "blend_weights.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start", type=Path)
    parser.add_argument("tuned", type=Path)
    parser.add_argument("base_data", type=Path)
    parser.add_argument("--weights", default="1,0.9,0.8,0.6")
    args = parser.parse_args()
    yolo_class = ultralytics_offline().YOLO
    rows = []
    print(f"{'share':>6} {'night':>6} {'day':>6} {'base val':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for weight in (float(w) for w in args.weights.split(",")):
            path = blend_checkpoints(args.start, args.tuned, weight, Path(tmp) / f"{weight}.pt")
            scores = {
                c: round(float(m.box.map50), 3) for c, m in held_out(yolo_class(str(path))).items()
            }
            base = round(evaluate(path, args.base_data, 320)["map50"], 3)
            rows.append({"weight": weight, **scores, "base_val": base})
            print(
                f"{weight:6.2f} {scores['night']:6.3f} {scores['day']:6.3f} {base:8.3f}", flush=True
            )
    with OUT.open("a") as out:
        out.write(
            json.dumps(
                {
                    "start": str(args.start),
                    "tuned": str(args.tuned),
                    "rows": rows,
                    "measured": time.strftime("%Y-%m-%d"),
                }
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
