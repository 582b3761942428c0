"""Static int8 quantization of a YOLO detection export with ONNX Runtime, its decode in float.

QDQ format, int8 weights per output channel, uint8 activations with MinMax ranges from
calibration frames letterboxed exactly as the player's `OnnxDetector.prepare` does. The nodes of
the detection head after its last convs (the DFL, the anchor decode, the sigmoid and the concat
of boxes with scores) stay float: boxes (0..imgsz pixels) and scores (0..1) share one output,
and one uint8 range over both rounds every score to 0 (measured on the traffic model and real
fog: mAP50 0.326 -> 0.000 at 480 with everything quantized; 0.331 with the decode in float).
Everything before it, the last convs of the box and class branches included, is int8:
keeping those convs float too measured no better (0.325 and 0.324 at 480, 0.210 and 0.211 at 320
against 0.210) and slower. ORT's `quant_pre_process` was measured too: the same mAP50 to four
decimals and no faster, so it is not run (its symbolic shape inference fails on the dynamic
export's anchor arithmetic anyway).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from tvdesk.core import atomic
from tvdesk.core.detector.onnx_model import PRECISION_KEY

logger = logging.getLogger(__name__)

# The per-level conv stacks of an Ultralytics Detect head (box branch cv2, class branch cv3):
# quantized. The head's other nodes are the decode, kept in float.
HEAD_BRANCHES = ("/cv2.", "/cv3.")
METHOD = {
    "format": "QDQ (onnxruntime.quantization.quantize_static)",
    "weights": "int8, per output channel",
    "activations": "uint8, MinMax ranges over the calibration frames",
}


class QuantizationError(RuntimeError):
    """A model cannot be quantized as tvdesk does it; the message says why."""


def decode_tail(model) -> list[str]:
    """Names of the detection head's nodes after its last convs: the head is the module whose
    node writes the model's output (`/model.22/` in YOLOv8), less its cv2/cv3 conv stacks."""
    output = model.graph.output[0].name
    producer = next((n for n in model.graph.node if output in n.output), None)
    parts = producer.name.split("/") if producer is not None else []
    if len(parts) < 3 or not parts[1]:
        raise QuantizationError(
            f"cannot tell the detection head from the node names (output written by "
            f"{producer.name if producer else 'nothing'!r}); export the model with Ultralytics"
        )
    head = f"/{parts[1]}/"
    tail = [
        n.name
        for n in model.graph.node
        if n.name.startswith(head) and not any(b in n.name for b in HEAD_BRANCHES)
    ]
    if not any(n.op_type == "Conv" and "/cv2." in n.name for n in model.graph.node):
        raise QuantizationError(f"{head} has no box branch (cv2): not an Ultralytics Detect head")
    return tail


def quantize(
    source: Path,
    target: Path,
    tensors: Sequence[np.ndarray],
    keep_float: Sequence[str] | None = None,
) -> int:
    """Write the int8 copy of `source` to `target` (atomically), calibrated on `tensors`
    (prepared model inputs), the nodes `keep_float` (default: the decode) left in float;
    returns how many nodes stayed float. Needs the `train` extra."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    model = onnx.load(str(source))
    float_nodes = decode_tail(model) if keep_float is None else list(keep_float)
    staging = target.with_name(f".{target.name}.partial")
    try:
        with _quiet_root_warnings():
            quantize_static(
                str(source),
                str(staging),
                _Frames(tensors, model.graph.input[0].name),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=float_nodes,
                calibrate_method=CalibrationMethod.MinMax,
            )
        quantized = onnx.load(str(staging))
        _copy_metadata(model, quantized)
        atomic.write_bytes(target, quantized.SerializeToString())
    finally:
        staging.unlink(missing_ok=True)
    logger.info("wrote %s: int8, %d nodes kept in float", target, len(float_nodes))
    return len(float_nodes)


def _copy_metadata(source, quantized) -> None:
    """The source's Ultralytics metadata (names, stride, imgsz...), plus precision=int8."""
    meta = {p.key: p.value for p in source.metadata_props} | {PRECISION_KEY: "int8"}
    del quantized.metadata_props[:]
    for key, value in meta.items():
        entry = quantized.metadata_props.add()
        entry.key, entry.value = key, value


class _Frames:
    """ONNX Runtime's calibration reader over prepared input tensors."""

    def __init__(self, tensors: Sequence[np.ndarray], input_name: str) -> None:
        self._items: Iterator[np.ndarray] = iter(tensors)
        self._name = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._items, None)
        return None if tensor is None else {self._name: tensor}


class _PreprocessAdvice(logging.Filter):
    """ORT's advice to run `quant_pre_process` (measured: no gain here), logged on the root
    logger on every call."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-process" not in record.getMessage()


@contextlib.contextmanager
def _quiet_root_warnings() -> Iterator[None]:
    root, advice = logging.getLogger(), _PreprocessAdvice()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)
