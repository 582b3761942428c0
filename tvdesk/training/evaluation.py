"""Measure a model with Ultralytics' own validator, so our figures are the reference figures."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tvdesk.training.offline import ultralytics_offline


def evaluate(weights: Path, data_yaml: Path, imgsz: int, device: str = "cpu") -> dict[str, float]:
    """mAP50, mAP50-95, precision and recall of `weights` (.pt or .onnx) on a val split."""
    yolo = ultralytics_offline().YOLO(str(weights), task="detect")
    with tempfile.TemporaryDirectory(prefix="tvdesk-val-") as tmp:
        metrics = yolo.val(
            data=str(data_yaml),
            imgsz=imgsz,
            batch=16,
            device=device,
            plots=False,
            verbose=False,
            project=tmp,
            name="val",
        )
    box = metrics.box
    return {
        "map50": float(box.map50),
        "map50_95": float(box.map),
        "precision": float(box.mp),
        "recall": float(box.mr),
    }
