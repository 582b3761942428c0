"""A real-weather job's dataset fine-tuned again with a changed recipe, offline: the fine-tune
and its blends with the start model, on what the gate sees and on the truth it cannot see.

    .venv/bin/python -m bench.real_weather_recipes ROOT NAME [--lr0 0.0005] [--seed 0]
        [--freeze 0] [--minutes 6.5] [--out bench/results/real_weather_recipes.jsonl]

ROOT is the folder a `bench.real_weather` run kept (`/tmp/tvdesk-real-weather-*`). Its job 1's
dataset (the chosen frames with their labels, the camera's replay images, the drifted val
split) is fine-tuned from the version the job started with, with the job's own recorded recipe
(here 480, mosaics, batch 8, AdamW, one torch thread; for teacher labels its class weights) but
for the options given (`--minutes` of Ultralytics' `time`); the fine-tune and its 80 % and 60 %
blends are measured as in `bench.real_weather_blends`. Run two at a time on a 2-core machine at
most (one thread each), and compare recipes run side by side: the epochs that fit depend on the
load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.real_weather import FOG, RESULTS
from bench.real_weather_blends import held_out_fog, kept_job, measure_blend
from tvdesk.training.blend import blend_checkpoints
from tvdesk.training.trainer import TrainParams, train

SHARES = (1.0, 0.8, 0.6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("name")
    parser.add_argument("--lr0", type=float, default=0.0005)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--freeze", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=6.5)
    parser.add_argument("--out", type=Path, default=RESULTS / "real_weather_recipes.jsonl")
    args = parser.parse_args()
    if not FOG.is_dir() or not (args.root / "home" / "tvdesk.db").is_file():
        sys.exit(f"needs ../shared/realdata and a kept real_weather run in {args.root}")
    job = kept_job(args.root)
    recorded = dict(job.train_params)  # JSON: the class weights come back as a list
    if recorded.get("class_weights") is not None:
        recorded["class_weights"] = tuple(recorded["class_weights"])
    changes = {"lr0": args.lr0, "seed": args.seed, "freeze": args.freeze, "minutes": args.minutes}
    params = TrainParams(**{**recorded, **changes})
    work = Path("/tmp") / f"real-weather-recipe-{args.name}"
    began = time.monotonic()
    result = train(job.sets["drift"], work, params)
    record: dict = {
        "root": str(args.root),
        "name": args.name,
        "lr0": args.lr0,
        "seed": args.seed,
        "freeze": args.freeze,
        "epochs": result.epochs_run,
        "train_s": round(time.monotonic() - began),
        "measured": time.strftime("%Y-%m-%d"),
    }
    fog = held_out_fog()
    for share in SHARES:
        path = blend_checkpoints(job.start, result.best_weights, share, work / f"{share}.pt")
        record[str(share)] = row = measure_blend(path, fog, job.day, job.sets)
        print(
            f"{args.name} {share:.1f}: fog {row['fog_320']:.3f} / {row['fog_480']:.3f}, day "
            f"{row['day_320']:.3f} / {row['day_480']:.3f}, gate drift {row['gate_drift']:.3f}"
            f" base {row['gate_base']:.3f}",
            flush=True,
        )
    with args.out.open("a") as out:
        out.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
