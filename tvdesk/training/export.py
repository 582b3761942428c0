"""Export a trained checkpoint to ONNX with Ultralytics' metadata (names, stride, imgsz, task),
its box decode rewritten to run faster with the same outputs (`onnx_graph.last_axis_dfl`)."""

from __future__ import annotations

from pathlib import Path

from tvdesk.training.offline import ultralytics_offline
from tvdesk.training.onnx_graph import rewrite_dfl_file


def export_onnx(weights: Path, imgsz: int, dynamic: bool = True) -> Path:
    """Write `<weights>.onnx` beside the checkpoint; dynamic shapes allow rectangular input."""
    yolo = ultralytics_offline().YOLO(str(weights))
    out = yolo.export(
        format="onnx", imgsz=imgsz, dynamic=dynamic, simplify=True, device="cpu", verbose=False
    )
    rewrite_dfl_file(Path(out), imgsz)
    return Path(out)
