"""Static int8 quantization of a YOLO detection export with ONNX Runtime, its decode in float.

QDQ format, int8 weights per output channel, uint8 activations with ranges set from calibration
frames letterboxed exactly as the player's `OnnxDetector.prepare` does, by a method of
`CALIBRATIONS`: MinMax (each activation's whole range over the frames) or ORT's percentile
(each range clipped at the 99.99th percentile of its histogram).

Percentile is there for fine-tuned versions. A fine-tune widens the rare extreme activations
(its first layers' ranges measured 1.3-3.3 times the bundled model's); a MinMax range stretched
over them leaves too few steps for the common values, and clipping them passed the gate where
MinMax failed (a fine-tune calibrated on its camera's 67 day frames, docs/retraining.md: base
set 0.871 -> 0.680 with MinMax, 0.864 with percentile; drifted 0.882 -> 0.872). ORT's histogram
needs every calibration tensor to have one shape, holds every frame's activations in memory at
once (so it gets at most 32 frames) and is slower than MinMax (quantizing the traffic model at
480 on 2 cores: 10.5 s for 32 frames, 23.8 s for 67; MinMax 3.6 and 5.3 s).

The nodes of the detection head after its last convs (the DFL, the anchor decode, the sigmoid
and the concat of boxes with scores) stay float: boxes (0..imgsz pixels) and scores (0..1)
share one output, and one uint8 range over both rounds every score to 0 (measured on the
traffic model and real fog: mAP50 0.326 -> 0.000 at 480 with everything quantized; 0.331 with
the decode in float). Everything before it, the last convs of the box and class branches
included, is int8: keeping those convs float too measured no better (0.325 and 0.324 at 480,
0.210 and 0.211 at 320 against 0.210) and slower. ORT's `quant_pre_process` was measured too:
the same mAP50 to four decimals and no faster, so it is not run (its symbolic shape inference
fails on the dynamic export's anchor arithmetic anyway).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
    "activations": "uint8, ranges from the calibration frames by calibration.method",
}


@dataclass(frozen=True)
class Calibrator:
    """How ONNX Runtime sets each activation's uint8 range from the calibration frames."""

    ort_method: str  # the name of an onnxruntime.quantization.CalibrationMethod
    description: str  # for the model card
    options: Mapping[str, object] = field(default_factory=dict)  # quantize_static extra_options
    one_shape: bool = False  # every calibration tensor must have the same shape
    max_frames: int | None = None  # the most frames it is given (evenly spread), for memory


CALIBRATIONS = {
    "minmax": Calibrator("MinMax", "uint8, each activation's whole range over the frames"),
    "percentile": Calibrator(
        "Percentile",
        "uint8, each activation's range clipped at the 99.99th percentile of its histogram "
        "over the frames",
        {"CalibPercentile": 99.99},
        one_shape=True,  # the histogram collector stacks each tensor's values of all frames
        # It holds every frame's activations at once: peak memory 3.0 GB for 32 frames of
        # 480x288, 5.9 GB for 67 (measured on the traffic model; MinMax 0.4-0.5 GB).
        max_frames=32,
    ),
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


def calibrator(method: str) -> Calibrator:
    """The calibration method named `method` in CALIBRATIONS; QuantizationError if none is."""
    if method not in CALIBRATIONS:
        known = ", ".join(CALIBRATIONS)
        raise QuantizationError(f"no calibration method {method!r}; tvdesk has {known}")
    return CALIBRATIONS[method]


def quantize(
    source: Path,
    target: Path,
    tensors: Sequence[np.ndarray],
    keep_float: Sequence[str] | None = None,
    method: str = "minmax",
) -> int:
    """Write the int8 copy of `source` to `target` (atomically), calibrated on `tensors`
    (prepared model inputs) by `method` (a key of CALIBRATIONS), the nodes `keep_float`
    (default: the decode) left in float; returns how many nodes stayed float. Needs the
    `train` extra."""
    import onnx

    calibration = calibrator(method)
    if calibration.one_shape:
        _check_one_shape(tensors, method)
    model = onnx.load(str(source))
    float_nodes = decode_tail(model) if keep_float is None else list(keep_float)
    staging = target.with_name(f".{target.name}.partial")
    try:
        reader = _Frames(tensors, model.graph.input[0].name)
        _quantize_static(source, staging, reader, float_nodes, calibration)
        quantized = onnx.load(str(staging))
        _copy_metadata(model, quantized)
        atomic.write_bytes(target, quantized.SerializeToString())
    finally:
        staging.unlink(missing_ok=True)
    logger.info("wrote %s: int8 (%s), %d nodes kept in float", target, method, len(float_nodes))
    return len(float_nodes)


def _quantize_static(
    source: Path, target: Path, reader: _Frames, float_nodes: list[str], calibration: Calibrator
) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with _quiet_root_warnings():
        quantize_static(
            str(source),
            str(target),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=float_nodes,
            calibrate_method=CalibrationMethod[calibration.ort_method],
            extra_options=dict(calibration.options),
        )


def _check_one_shape(tensors: Sequence[np.ndarray], method: str) -> None:
    shapes = Counter(tuple(t.shape) for t in tensors)
    if len(shapes) > 1:
        found = ", ".join(f"{n} of {'x'.join(map(str, s))}" for s, n in shapes.most_common())
        raise QuantizationError(
            f"{method} calibration needs every calibration tensor to have one shape, got "
            f"{found}: resize the frames to one size before preparing them"
        )


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
