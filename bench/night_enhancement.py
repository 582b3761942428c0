"""Can enhancing night frames stand in for retraining? The bundled model on enhanced copies.

    .venv/bin/python -m bench.night_enhancement

The held-out night frames of `make model` (build/eval/night, 200 frames) are written again
through each enhancement of `tvdesk.retrain.enhance` (the teacher labeler's and the selection's
second look), and the bundled model is measured on each copy with Ultralytics' val at 320 px.
Then the other adaptation that needs no labels: the bundled model with its BatchNorm statistics
re-estimated on the headless demo's 160 night stream frames (AdaBN, Li et al. 2016; the frames
of `bench/fine_tune_recipes.py`), measured on the night and the day held-out sets.
Prints a table and writes bench/results/night_enhancement.json.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench.fine_tune_recipes import EVAL, demo_stream, held_out, rendered
from bench.fine_tune_recipes import WORK as RECIPES_WORK
from tvdesk.config import project_root
from tvdesk.core.synth.dataset import DatasetSpec
from tvdesk.retrain.enhance import clahe, gamma, night_gamma
from tvdesk.training.offline import ultralytics_offline

ROOT = project_root()
NIGHT = EVAL / "night"
WORK = ROOT / "build" / "night-enhancement"
MODEL = ROOT / "resources" / "models" / "tvdesk-base.pt"
OUT = Path(__file__).resolve().parent / "results" / "night_enhancement.json"


# folder: (what the table calls it, the enhancement)
ENHANCEMENTS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "none": ("none", lambda image: image),
    "teacher": ("teacher's gamma (mean luma 45)", lambda image: gamma(image, night_gamma(image))),
    "gamma100": ("gamma to mean luma 100", lambda image: gamma(image, night_gamma(image, 100.0))),
    "clahe": ("CLAHE", clahe),
}


def enhanced_copy(folder: Path, enhance: Callable[[np.ndarray], np.ndarray]) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "images" / "val").mkdir(parents=True)
    shutil.copytree(NIGHT / "labels", folder / "labels")
    for path in sorted((NIGHT / "images" / "val").glob("*.jpg")):
        cv2.imwrite(str(folder / "images" / "val" / path.name), enhance(cv2.imread(str(path))))
    (folder / "data.yaml").write_text((NIGHT / "data.yaml").read_text())
    return folder / "data.yaml"


def batch_norm_adapted(model, frames: list[Path]):
    """`model` with every BatchNorm's running mean and variance re-estimated on `frames`
    (a cumulative average over batches of 16, letterboxed as Ultralytics' rect val does),
    its weights untouched."""
    import torch
    from ultralytics.data.augment import LetterBox

    letterbox = LetterBox((192, 320), auto=False)
    network = model.model
    for layer in network.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.reset_running_stats()
            layer.momentum = None  # a cumulative average
    network.train()
    with torch.no_grad():
        for start in range(0, len(frames), 16):
            images = [
                letterbox(image=cv2.imread(str(p)))[:, :, ::-1] for p in frames[start : start + 16]
            ]
            batch = torch.from_numpy(np.stack(images).copy()).permute(0, 3, 1, 2).float() / 255
            network(batch)
    network.eval()
    return model


def validate(model, data: Path) -> float:
    metrics = model.val(
        data=str(data), imgsz=320, batch=16, device="cpu", plots=False, verbose=False
    )
    return round(float(metrics.box.map50), 4)


def main() -> int:
    for condition in ("night", "day"):  # as `make model` renders them
        rendered(EVAL / condition, DatasetSpec((condition,), train=0, val=200, seed=1001))
    model = ultralytics_offline().YOLO(str(MODEL))
    rows = []
    print(f"{'night frames':34} {'mAP50':>6}")
    for slug, (name, enhance) in ENHANCEMENTS.items():
        rows.append(
            {"enhancement": name, "map50": validate(model, enhanced_copy(WORK / slug, enhance))}
        )
        print(f"{name:34} {rows[-1]['map50']:6.3f}", flush=True)
    frames = sorted((demo_stream(RECIPES_WORK / "stream") / "images" / "train").glob("*.jpg"))
    adapted = batch_norm_adapted(ultralytics_offline().YOLO(str(MODEL)), frames)
    measured = held_out(adapted)
    adabn = {"frames": len(frames)} | {
        f"{condition}_map50": round(float(metrics.box.map50), 4)
        for condition, metrics in measured.items()
    }
    print(
        f"BatchNorm re-estimated on {len(frames)} night stream frames: "
        f"night {adabn['night_map50']:.3f}, day {adabn['day_map50']:.3f}"
    )
    OUT.write_text(
        json.dumps(
            {
                "model": MODEL.name,
                "measured": time.strftime("%Y-%m-%d"),
                "rows": rows,
                "batch_norm_adapted": adabn,
            }
        )
        + "\n"
    )
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
