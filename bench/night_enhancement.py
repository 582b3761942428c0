"""Can enhancing night frames stand in for retraining? The bundled model on enhanced copies.

    .venv/bin/python bench/night_enhancement.py

The held-out night frames of `make model` (build/eval/night, 200 frames) are written again
through each enhancement of `tvdesk.core.enhance` (the teacher labeler's and the selection's
second look), and the bundled model is measured on each copy with Ultralytics' val at 320 px.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tvdesk.config import project_root
from tvdesk.core.enhance import clahe, gamma, night_gamma
from tvdesk.core.synth.dataset import DatasetSpec, write_dataset
from tvdesk.training.offline import ultralytics_offline

ROOT = project_root()
NIGHT = ROOT / "build" / "eval" / "night"
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


def main() -> int:
    if not (NIGHT / "data.yaml").exists():  # as `make model` renders it
        write_dataset(NIGHT, DatasetSpec(("night",), train=0, val=200, seed=1001))
    model = ultralytics_offline().YOLO(str(MODEL))
    rows = []
    print(f"{'night frames':34} {'mAP50':>6}")
    for slug, (name, enhance) in ENHANCEMENTS.items():
        metrics = model.val(
            data=str(enhanced_copy(WORK / slug, enhance)),
            imgsz=320,
            batch=16,
            device="cpu",
            plots=False,
            verbose=False,
        )
        rows.append({"enhancement": name, "map50": round(float(metrics.box.map50), 4)})
        print(f"{name:34} {rows[-1]['map50']:6.3f}", flush=True)
    OUT.write_text(
        json.dumps({"model": MODEL.name, "measured": time.strftime("%Y-%m-%d"), "rows": rows})
        + "\n"
    )
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
