"""Night fine-tuning recipes, measured: held-out night and day mAP50 after the same training time.

    .venv/bin/python -m bench.fine_tune_recipes [--minutes 6] [--only J ...]

Each recipe fine-tunes the bundled `.pt` for the same wall time (Ultralytics' `time`) on one
torch thread, as the local worker does, on synthetic night frames mixed with M replayed
base-day images (and, from recipe S on, with base images relit to the night's light,
`tvdesk.retrain.relight`), and is then measured with Ultralytics' val on the held-out sets of
`make model` (build/eval/{day,night}, 200 frames each). Night frames come from one of two
sources: `renders` (160 independent renders, seed 7; a recipe takes the first N), more varied
than a stream's, so their figures are above what the demo gives (recipe L: 0.63, 0.48 in the
headless demo); or `stream` (from S on): the headless demo's own camera, 160 frames evenly
spaced over the 40 s from the start of the fall of night, the frames its job labels.
Recipes run one after another; each line of the table is appended to
bench/results/fine_tune_recipes.jsonl as it ends. Two runs side by side (one core each,
`--beside` records it) must not start at the same moment: both would write Ultralytics' label
cache of the same folder, and one fails.

The question they answer: what a retraining can reach in the few minutes the demo's 10-minute
promise leaves, and what it costs the day (the promotion gate allows 0.03 of day mAP50).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from tvdesk.config import project_root
from tvdesk.core.synth.camera import SyntheticCamera
from tvdesk.core.synth.dataset import JPEG_QUALITY, DatasetSpec, write_dataset, yolo_lines
from tvdesk.demo.headless import DemoOptions, demo_scenario
from tvdesk.retrain.relight import BACKGROUND_SAMPLES, relighting
from tvdesk.training.offline import ultralytics_offline

ROOT = project_root()
WORK = ROOT / "build" / "fine-tune-recipes"
EVAL = ROOT / "build" / "eval"
BASE_TRAIN = ROOT / "data" / "base" / "images" / "train"
BASE_TRAIN_SAMPLE = BACKGROUND_SAMPLES
NIGHT_SPEC = DatasetSpec(conditions=("night",), train=160, val=40, seed=7)
STREAM_SECONDS = (60.0, 100.0)  # the demo's frames a job labels: night falls at 60 s
STREAM_FRAMES = 160
OUT = Path(__file__).resolve().parent / "results" / "fine_tune_recipes.jsonl"
NAMES = ("car", "truck", "bus", "motorcycle")

COMMON = {"batch": 16, "imgsz": 320, "rect": True, "cache": "ram", "freeze": 0, "warmup_epochs": 0}
# Recipe J's arguments, and L's: J with batches of 8 and a weight update after each (Ultralytics
# accumulates gradients up to a nominal batch of 64, `nbs`: at batch 16 the weights move once
# every 4 batches, about 7 times an epoch on 410 images).
J_ARGS = {"scale": 0.25, "optimizer": "AdamW", "lr0": 0.0005}
L_ARGS = {**J_ARGS, "nbs": 8, "batch": 8}
# name: (night source, night frames, replayed day images, relit base images, Ultralytics
# arguments beside COMMON)
RECIPES: dict[str, tuple[str, int, int, int, dict]] = {
    "A Ultralytics' lr and scale": ("renders", 108, 150, 0, {}),
    "D scale 0.25": ("renders", 108, 150, 0, {"scale": 0.25}),
    "E replay 250": ("renders", 108, 250, 0, {}),
    "G lr 0.0005": ("renders", 108, 150, 0, J_ARGS),
    "H 100 night, replay 250": ("renders", 100, 250, 0, {"scale": 0.25}),
    "I 160 night, replay 400": ("renders", 160, 400, 0, {"scale": 0.25}),
    "J batch 16": ("renders", 160, 250, 0, J_ARGS),
    "K a step per batch": ("renders", 160, 250, 0, {**J_ARGS, "nbs": 16}),
    "L batch 8, a step each": ("renders", 160, 250, 0, L_ARGS),
    "M batch 4, a step each": ("renders", 160, 250, 0, {**L_ARGS, "nbs": 4, "batch": 4}),
    "N batch 8, lr 0.001": ("renders", 160, 250, 0, {**L_ARGS, "lr0": 0.001}),
    "O batch 8, lr 0.001, replay 400": ("renders", 160, 400, 0, {**L_ARGS, "lr0": 0.001}),
    "P batch 8, lr 0.0007": ("renders", 160, 250, 0, {**L_ARGS, "lr0": 0.0007}),
    "Q L, final lr 10 %": ("renders", 160, 250, 0, {**L_ARGS, "lrf": 0.1}),
    "R L at 256 px": ("renders", 160, 250, 0, {**L_ARGS, "imgsz": 256}),
    "S L on the demo's stream": ("stream", 160, 250, 0, L_ARGS),
    "T S with 120 relit base images": ("stream", 160, 250, 120, L_ARGS),
}


def rendered(folder: Path, spec: DatasetSpec) -> Path:
    if not (folder / "data.yaml").exists():
        write_dataset(folder, spec)
    return folder


def demo_stream(folder: Path) -> Path:
    """The headless demo's frames of the fall of night and after, STREAM_FRAMES of them
    evenly spaced, with their ground truth, as a YOLO folder."""
    images = folder / "images" / "train"
    if images.is_dir() and len(list(images.glob("*.jpg"))) == STREAM_FRAMES:
        return folder
    options = DemoOptions()
    camera = SyntheticCamera(
        demo_scenario(options.day_s, options.fade_s), options.fps, options.seed
    )
    first, last = (round(s * options.fps) for s in STREAM_SECONDS)
    wanted = {first + round(k * (last - first) / STREAM_FRAMES) for k in range(STREAM_FRAMES)}
    labels = folder / "labels" / "train"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for index, frame in zip(range(last), camera, strict=False):
        if index in wanted:
            cv2.imwrite(
                str(images / f"frame_{index:06d}.jpg"),
                frame.image,
                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
            )
            lines = yolo_lines(frame.truth, *camera.size)
            (labels / f"frame_{index:06d}.txt").write_text("".join(f"{x}\n" for x in lines))
    return folder


def relit_images(night: Path, skip: list[Path], count: int) -> list[Path]:
    """`count` base images not in `skip`, relit to the light of the later half of the night
    frames (as the dataset stage does with a job's frames), with their labels."""
    folder = WORK / f"relit-{night.name}-{count}"
    images, labels = folder / "images" / "train", folder / "labels" / "train"
    done = sorted(images.glob("*.jpg")) if images.is_dir() else []
    if len(done) == count:
        return done
    frames = sorted((night / "images" / "train").glob("*.jpg"))
    later = frames[len(frames) // 2 :]
    base = sorted(BASE_TRAIN.glob("*.jpg"))
    step = lambda items: max(1, len(items) // BASE_TRAIN_SAMPLE)  # noqa: E731
    relight = relighting(
        [cv2.imread(str(p)) for p in later[:: step(later)]],
        [cv2.imread(str(p)) for p in base[:: step(base)]],
    )
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    others = [p for p in base if p not in set(skip)]
    for source in others[:: max(1, len(others) // count)][:count]:
        lit = relight.apply(cv2.imread(str(source)), rng)
        cv2.imwrite(str(images / source.name), lit, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        label = source.parent.parent.parent / "labels" / "train" / f"{source.stem}.txt"
        (labels / label.name).write_text(label.read_text())
    return sorted(images.glob("*.jpg"))


def data_yaml(name: str, night: Path, new: int, replay: int, relit: int) -> Path:
    """Night, day and relit images interleaved in one list (the order Ultralytics reads
    them in)."""
    frames = sorted((night / "images" / "train").glob("*.jpg"))[:new]
    base = sorted(BASE_TRAIN.glob("*.jpg"))
    base = base[:: max(1, len(base) // max(replay, 1))][:replay]
    lit = relit_images(night, base, relit) if relit else []
    mixed = [
        p for group in itertools.zip_longest(frames, base, lit) for p in group if p is not None
    ]
    slug = name.split()[0]
    listing = WORK / f"{slug}-train.txt"
    listing.write_text("\n".join(str(p) for p in mixed) + "\n")
    yaml = WORK / f"{slug}.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(NAMES))
    # Ultralytics' per-epoch val: the 40 rendered night frames for every recipe (the
    # held-out sets are measured after training).
    val = WORK / "night" / "images" / "val"
    yaml.write_text(f"train: {listing}\nval: {val}\nnames:\n{names}\n")
    return yaml


def run(name: str, minutes: float, nights: dict[str, Path]) -> dict:
    import torch

    source, new, replay, relit, extra = RECIPES[name]
    yolo_class = ultralytics_offline().YOLO
    model = yolo_class(str(ROOT / "resources" / "models" / "tvdesk-base.pt"))
    model.add_callback("on_pretrain_routine_start", lambda _: torch.set_num_threads(1))
    epochs = []  # one entry per epoch trained (the last one cut short when the time is up)
    model.add_callback("on_train_epoch_end", lambda trainer: epochs.append(trainer.epoch))
    started = time.monotonic()
    model.train(
        data=str(data_yaml(name, nights[source], new, replay, relit)),
        epochs=10,
        time=minutes / 60,
        seed=0,
        deterministic=True,
        workers=1,
        device="cpu",
        project=str(WORK / "runs"),
        name=name.split()[0],
        exist_ok=True,
        plots=False,
        amp=False,
        verbose=False,
        patience=100,
        **{**COMMON, **extra},
    )
    train_s = time.monotonic() - started
    torch.set_num_threads(2)
    measured = held_out(yolo_class(str(model.trainer.last)))
    scores = {condition: round(float(m.box.map50), 3) for condition, m in measured.items()}
    return {
        "recipe": name,
        "night_source": source,
        "night_frames": new,
        "replay": replay,
        "relit": relit,
        "arguments": {**COMMON, **extra},
        "minutes": minutes,
        "train_s": round(train_s),
        "epochs": len(epochs),
        "night_map50": scores["night"],
        "day_map50": scores["day"],
    }


def held_out(model) -> dict:
    """Ultralytics' val of `model` on the held-out night and day sets of `make model`."""
    return {
        condition: model.val(
            data=str(EVAL / condition / "data.yaml"),
            imgsz=320,
            batch=16,
            device="cpu",
            plots=False,
            verbose=False,
        )
        for condition in ("night", "day")
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="training time per recipe")
    parser.add_argument("--only", nargs="+", metavar="LETTER", help="e.g. --only A J")
    parser.add_argument(
        "--beside", default=None, help="what ran on the other core meanwhile (for the record)"
    )
    args = parser.parse_args()
    if not BASE_TRAIN.exists():
        sys.exit(f"{BASE_TRAIN} is missing: `make setup` renders the base dataset")
    for condition in ("day", "night"):  # as `make model` renders them
        rendered(EVAL / condition, DatasetSpec((condition,), train=0, val=200, seed=1001))
    names = [n for n in RECIPES if not args.only or n.split()[0] in args.only]
    WORK.mkdir(parents=True, exist_ok=True)
    nights = {
        "renders": rendered(WORK / "night", NIGHT_SPEC),
        "stream": demo_stream(WORK / "stream"),
    }
    print(f"{'recipe':28} {'night':>5} {'replay':>6} {'epochs':>6} {'night mAP50':>11} {'day':>6}")
    for name in names:
        row = run(name, args.minutes, nights)
        row["measured"] = f"{time.strftime('%Y-%m-%d')}, 1 torch thread"
        row["ran_beside"] = args.beside
        with OUT.open("a") as out:
            out.write(json.dumps(row) + "\n")
        print(
            f"{name:28} {row['night_frames']:5d} {row['replay']:6d} {row['epochs']:6d} "
            f"{row['night_map50']:11.3f} {row['day_map50']:6.3f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
