"""The model card: what a model is, what trained it (data version, parameters), how good it is."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from tvdesk.core import atomic
from tvdesk.core.atomic import sha256_of


def build_card(
    name: str,
    onnx_path: Path,
    pt_path: Path,
    class_names: list[str],
    data: dict,
    train_params: dict,
    metrics: dict[str, dict[str, float]],
    training_seconds: float,
    provenance: dict | None = None,
) -> dict:
    """The card as a dict; `metrics` maps an evaluation set's name to its figures.

    `provenance`: where a model not trained here comes from (source file, licence).
    """
    import torch
    import ultralytics

    return {
        "name": name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": "detect",
        "architecture": "yolov8n",
        "class_names": class_names,
        **({"provenance": provenance} if provenance else {}),
        "files": {
            "onnx": {"name": onnx_path.name, "sha256": sha256_of(onnx_path)},
            "pt": {"name": pt_path.name, "sha256": sha256_of(pt_path)},
        },
        "data": data,
        "training": {**train_params, "seconds": round(training_seconds, 1)},
        "metrics": metrics,
        "environment": {
            "ultralytics": ultralytics.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
    }


def write_card(card: dict, path: Path) -> None:
    atomic.write_text(path, json.dumps(card, indent=2) + "\n")
