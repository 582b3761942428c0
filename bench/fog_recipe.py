"""How a real camera's model should be fine-tuned, measured on real fog with ground truth.

    .venv/bin/python -m bench.fog_recipe [--minutes 6] [--recipe gt:320:mosaic ...]
        [--out bench/results/fog_recipe.jsonl]

The traffic model is fine-tuned for the same wall time (Ultralytics' `time`, one torch thread,
batch 8, AdamW lr 0.0005, as the local worker does) on the held-in images of `dawn_fog` (the
real-weather bench's split: every third image by name is held out), 25 of them its val split,
and measured on the held-out third at 320 and at 480 (our detector, mAP50 over the classes
present). A recipe is LABELS:SIZE:BATCHES:
- LABELS `gt` (the ground truth, as an operator's imported labels would be) or `teacherX`
  (the ensemble teacher's boxes fused to a score of X or more, e.g. `teacher0.3`; the
  teacher's default keep_score is 0.55);
- SIZE the training and gating input size;
- BATCHES `rect` (rectangular batches of whole frames, the synthetic camera's recipe) or
  `mosaic` (Ultralytics' mosaics, scale jitter 0.5).
Each recipe's line is printed and appended to the JSON lines file as it ends. The question:
which recipe a real camera's retraining should use (`tvdesk.retrain.plan.settings_for`).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import yaml

from bench.real_weather import FOG, RESULTS, map50, split_fog
from tvdesk.config import traffic_model_path
from tvdesk.core.synth.dataset import yolo_lines
from tvdesk.core.synth.render import GroundTruth
from tvdesk.retrain.teacher import TRAFFIC_CLASSES, EnsembleTeacher, TeacherSettings
from tvdesk.training.accuracy import LabelledFolder
from tvdesk.training.export import export_onnx
from tvdesk.training.trainer import TrainParams, train

DEFAULT_RECIPES = ("gt:320:rect", "gt:320:mosaic", "teacher0.3:480:mosaic", "gt:480:mosaic")
VAL_EVERY = 5  # 25 of the 124 held-in images are the fine-tune's val split
SIZES = (320, 480)


def recipe_parts(recipe: str) -> tuple[str, float | None, int, bool]:
    """(labels, teacher keep score or None, size, mosaic) of `recipe`."""
    labels, size, batches = recipe.split(":")
    if batches not in ("rect", "mosaic"):
        raise SystemExit(f"{recipe}: the batches must be rect or mosaic")
    keep = float(labels.removeprefix("teacher")) if labels.startswith("teacher") else None
    if keep is None and labels != "gt":
        raise SystemExit(f"{recipe}: the labels must be gt or teacherX (X a score)")
    return labels, keep, int(size), batches == "mosaic"


def ground_truth_lines(image: Path) -> list[str]:
    """The image's dawn_fog labels, COCO classes mapped to the traffic model's."""
    names = yaml.safe_load((FOG / "data.yaml").read_text())["names"]
    traffic = {i: TRAFFIC_CLASSES.index(n) for i, n in names.items() if n in TRAFFIC_CLASSES}
    lines = []
    for line in (FOG / "labels" / f"{image.stem}.txt").read_text().splitlines():
        cls, *box = line.split()
        if int(cls) in traffic:
            lines.append(" ".join([str(traffic[int(cls)]), *box]))
    return lines


def teacher_lines(teacher: EnsembleTeacher, image: Path) -> list[str]:
    """The teacher's kept boxes on `image` (a doubtful image too: all images are kept)."""
    frame = cv2.imread(str(image))
    boxes = teacher.label(frame).boxes
    height, width = frame.shape[:2]
    return yolo_lines(GroundTruth(boxes.xyxy, boxes.class_ids), width, height)


def write_dataset(root: Path, held_in: list[Path], keep: float | None) -> int:
    """The held-in images with their labels as a YOLO dataset under `root`; the boxes written."""
    teacher = None
    if keep is not None:
        settings = TeacherSettings(keep_score=keep, doubt_score=min(0.25, keep))
        teacher = EnsembleTeacher(traffic_model_path(), settings)
    boxes = 0
    for k, image in enumerate(held_in):
        split = "val" if k % VAL_EVERY == 0 else "train"
        for part in ("images", "labels"):
            (root / part / split).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image, root / "images" / split / image.name)
        lines = teacher_lines(teacher, image) if teacher else ground_truth_lines(image)
        boxes += len(lines)
        (root / "labels" / split / f"{image.stem}.txt").write_text("".join(f"{x}\n" for x in lines))
    names = dict(enumerate(TRAFFIC_CLASSES))
    (root / "data.yaml").write_text(
        yaml.safe_dump({"train": "images/train", "val": "images/val", "names": names})
    )
    return boxes


def run_recipe(recipe: str, minutes: float) -> dict:
    labels, keep, size, mosaic = recipe_parts(recipe)
    held_in, held_out = split_fog()
    fog = LabelledFolder.from_yaml(FOG / "data.yaml").subset(held_out)
    with tempfile.TemporaryDirectory(prefix="tvdesk-fog-recipe-") as tmp:
        root = Path(tmp)
        boxes = write_dataset(root, held_in, keep)
        params = TrainParams(
            start_from=str(traffic_model_path().with_suffix(".pt")),
            epochs=10,
            minutes=minutes,
            rect=not mosaic,
            scale=0.5 if mosaic else 0.25,
            optimizer="AdamW",
            lr0=0.0005,
            imgsz=size,
            batch=8,
            nominal_batch=8,
            patience=100,
            workers=1,
            threads=1,
            warmup_epochs=0,
        )
        started = time.monotonic()
        result = train(root / "data.yaml", root / "train", params, lambda *_: None)
        trained_s = time.monotonic() - started
        onnx = export_onnx(result.best_weights, size, dynamic=True)
        row = {"recipe": recipe, "labels": labels, "size": size, "mosaic": mosaic}
        row |= {"boxes": boxes, "epochs": result.epochs_run, "train_s": round(trained_s)}
        for s in SIZES:
            row[f"before_{s}"] = map50(traffic_model_path(), fog, s)
            row[f"after_{s}"] = map50(onnx, fog, s)
    return row


def print_row(row: dict) -> None:
    figures = "  ".join(f"@{s} {row[f'before_{s}']:.3f} -> {row[f'after_{s}']:.3f}" for s in SIZES)
    print(
        f"{row['recipe']:<22} {row['boxes']:>5} boxes {row['epochs']:>3} epochs "
        f"{row['train_s']:>4} s  held-out fog mAP50 {figures}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="fine-tuning time each")
    parser.add_argument("--recipe", nargs="+", default=list(DEFAULT_RECIPES))
    parser.add_argument("--out", type=Path, default=RESULTS / "fog_recipe.jsonl")
    args = parser.parse_args()
    if not FOG.exists():
        raise SystemExit(f"no real fog images at {FOG}: this bench needs ../shared/realdata")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{'recipe':<22} boxes epochs time  held-out fog mAP50 before -> after")
    for recipe in args.recipe:
        row = run_recipe(recipe, args.minutes)
        row |= {"minutes": args.minutes, "cpu": platform.processor() or platform.machine()}
        print_row(row)
        with args.out.open("a") as out:
            out.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
