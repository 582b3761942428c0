"""How far the night goes with far more data and time than a retraining has: the ceiling.

    .venv/bin/python -m bench.night_ceiling [--minutes 36] [--night 800] [--replay 400]

Fine-tunes the bundled `.pt` with the retraining's own recipe (recipe L of
bench/fine_tune_recipes.py: AdamW lr 0.0005, batches of 8 with a step after each, 320x192,
scale +-25 %, no warm-up, one torch thread) on many independent night renders (seed 11) and
replayed base-day images, for much longer than the demo's 6.5 minutes, then measures mAP50 on
the held-out sets of `make model` (build/eval/{day,night}). It answers whether the night
target (0.9 x the bundled model's day mAP50 = 0.81) is reachable by this model at 320 px at
all, and at what cost. Takes `--minutes` plus a few; appends a line to
bench/results/night_ceiling.jsonl.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from bench.fine_tune_recipes import BASE_TRAIN, EVAL, L_ARGS, NAMES, held_out, rendered
from tvdesk.config import project_root
from tvdesk.core.synth.dataset import DatasetSpec
from tvdesk.training.offline import ultralytics_offline

ROOT = project_root()
WORK = ROOT / "build" / "night-ceiling"
OUT = Path(__file__).resolve().parent / "results" / "night_ceiling.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=36.0)
    parser.add_argument("--night", type=int, default=800, help="night renders to train on")
    parser.add_argument("--replay", type=int, default=400, help="base-day images replayed")
    args = parser.parse_args()
    if not BASE_TRAIN.exists():
        sys.exit(f"{BASE_TRAIN} is missing: `make setup` renders the base dataset")
    import torch

    for condition in ("day", "night"):
        rendered(EVAL / condition, DatasetSpec((condition,), train=0, val=200, seed=1001))
    night = rendered(
        WORK / f"night-{args.night}", DatasetSpec(("night",), train=args.night, val=40, seed=11)
    )
    frames = sorted((night / "images" / "train").glob("*.jpg"))
    base = sorted(BASE_TRAIN.glob("*.jpg"))
    base = base[:: max(1, len(base) // max(args.replay, 1))][: args.replay]
    mixed = [p for pair in itertools.zip_longest(frames, base) for p in pair if p is not None]
    listing = WORK / "train.txt"
    listing.write_text("\n".join(map(str, mixed)) + "\n")
    yaml = WORK / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(NAMES))
    yaml.write_text(f"train: {listing}\nval: {night / 'images' / 'val'}\nnames:\n{names}\n")

    yolo_class = ultralytics_offline().YOLO
    model = yolo_class(str(ROOT / "resources" / "models" / "tvdesk-base.pt"))
    model.add_callback("on_pretrain_routine_start", lambda _: torch.set_num_threads(1))
    started = time.monotonic()
    model.train(
        data=str(yaml),
        epochs=10,
        time=args.minutes / 60,
        seed=0,
        deterministic=True,
        workers=1,
        device="cpu",
        project=str(WORK / "runs"),
        name="ceiling",
        exist_ok=True,
        plots=False,
        amp=False,
        verbose=False,
        patience=100,
        imgsz=320,
        rect=True,
        cache="ram",
        freeze=0,
        warmup_epochs=0,
        **L_ARGS,
    )
    row = {
        "minutes": args.minutes,
        "night_frames": args.night,
        "replay": args.replay,
        "arguments": L_ARGS,
        "train_s": round(time.monotonic() - started),
        "epochs": model.trainer.epoch + 1,
        "updates": model.trainer.ema.updates,
        "measured": f"{time.strftime('%Y-%m-%d')}, 1 torch thread",
    }
    torch.set_num_threads(2)
    for condition, metrics in held_out(yolo_class(str(model.trainer.last))).items():
        row[f"{condition}_map50"] = round(float(metrics.box.map50), 3)
        row[f"{condition}_ap50_per_class"] = dict(
            zip(NAMES, (round(float(x), 3) for x in metrics.box.ap50), strict=False)
        )
    with OUT.open("a") as out:
        out.write(json.dumps(row) + "\n")
    print(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
