"""Open an Ultralytics ONNX export with ONNX Runtime and check that it is a detector we can decode.

Everything a detector needs to know about a model file (classes, stride, export size, input
shape and type) is read here from the ONNX metadata and signature; anything that would make
decoding wrong is a `DetectorError` naming the file, the problem and what to do.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from tvdesk.core.detector.int8_copy import fp32_path

logger = logging.getLogger(__name__)

DEFAULT_STRIDE = 32
DEFAULT_IMGSZ = 640  # Ultralytics' default when a dynamic model's metadata has none
CPU_PROVIDER = "CPUExecutionProvider"
# Used, in this order, when onnxruntime offers them and the caller did not choose.
ACCELERATED_PROVIDERS = ("CUDAExecutionProvider", "CoreMLExecutionProvider", "DmlExecutionProvider")
INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
# The metadata key tvdesk's int8 quantization writes (tvdesk.training.int8): "int8".
PRECISION_KEY = "precision"
LOAD_ERRORS = (
    ort_errors.Fail,
    ort_errors.InvalidArgument,
    ort_errors.InvalidGraph,
    ort_errors.InvalidProtobuf,
    ort_errors.NoSuchFile,
    ort_errors.NotImplemented,
    ort_errors.RuntimeException,
)
EXPORT_HINT = "export a YOLOv8/YOLO11 detection model with Ultralytics: yolo export format=onnx"


class DetectorError(Exception):
    """A model or frame the detector cannot use; the message names the file and the problem."""


@dataclass(frozen=True)
class ModelInfo:
    """What a detection export is, from its metadata and its input/output signature."""

    names: tuple[str, ...]
    stride: int
    export_hw: tuple[int, int]  # the imgsz it was exported at (height, width)
    fixed_hw: tuple[int, int] | None  # None: the input height and width are dynamic
    input_name: str
    input_dtype: type
    output_name: str
    precision: str = "fp32"  # what the weights and arithmetic are: fp32, fp16 or int8
    batches: bool = False  # the input's batch size is dynamic: frames can run stacked

    @property
    def dynamic(self) -> bool:
        return self.fixed_hw is None


def choose_providers(path: Path, requested: Sequence[str] | None) -> list[str]:
    """The requested providers (all must exist), or the accelerators on offer, then the CPU."""
    available = ort.get_available_providers()
    if requested is None:
        return [p for p in ACCELERATED_PROVIDERS if p in available] + [CPU_PROVIDER]
    missing = [p for p in requested if p not in available]
    if missing or not requested:
        raise DetectorError(
            f"{path}: execution provider(s) {', '.join(missing) or '(none given)'} not offered "
            f"by this onnxruntime; choose from {', '.join(available)}"
        )
    return list(requested)


def open_session(
    path: Path,
    threads: int,
    providers: Sequence[str] | None,
    *,
    optimize: bool = True,
    spin: bool = True,
    save_optimized_to: Path | None = None,
) -> ort.InferenceSession:
    """An inference session with `threads` intra-op threads, or a DetectorError saying why not.

    `optimize=False` skips ONNX Runtime's graph optimizer: for a file `save_optimized` wrote.
    `spin=False`: the pool threads sleep rather than spin while they wait for work.
    """
    if not path.is_file():
        raise DetectorError(f"{path}: model file not found; check the path or choose another model")
    if path.stat().st_size == 0:
        raise DetectorError(f"{path} is empty, not an ONNX model; {EXPORT_HINT}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if optimize
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    if save_optimized_to is not None:
        options.optimized_model_filepath = str(save_optimized_to)
        options.log_severity_level = 3  # not the warning that the file suits only this machine
    try:
        return ort.InferenceSession(str(path), options, providers=choose_providers(path, providers))
    except ort_errors.InvalidProtobuf as exc:
        raise DetectorError(
            f"{path} is not an ONNX model (it cannot be parsed: {exc}); {EXPORT_HINT}"
        ) from exc
    except LOAD_ERRORS as exc:
        raise DetectorError(f"{path}: ONNX Runtime cannot load this model ({exc})") from exc


def runs_on_cpu_only(path: Path, providers: Sequence[str] | None) -> bool:
    return choose_providers(path, providers) == [CPU_PROVIDER]


def save_optimized(path: Path, target: Path) -> None:
    """Write `path` to `target` with ONNX Runtime's graph optimizations for this machine's CPU
    done (fusions, constant folding, the CPU's blocked memory layout).

    Opening `target` with `optimize=False` then skips the optimizer, which is most of the cost
    of opening a model; the result is the same model, but only for this machine and
    onnxruntime version, so the file is meant to be used at once, not kept.
    """
    open_session(path, 1, [CPU_PROVIDER], save_optimized_to=target)  # writes it while opening


def read_model_info(path: Path, session: ort.InferenceSession) -> ModelInfo:
    """Check the export is a raw YOLO detection head and read its classes and sizes."""
    meta = session.get_modelmeta().custom_metadata_map
    _check_task(path, meta)
    input_name, input_dtype, fixed_hw = _input_signature(path, session)
    batches = not isinstance(session.get_inputs()[0].shape[0], int)
    output_name, channels = _output_signature(path, session)
    names = _class_names(path, meta, channels)
    stride = int(_literal(meta.get("stride")) or DEFAULT_STRIDE)
    export_hw = _pair(_literal(meta.get("imgsz"))) or fixed_hw or (DEFAULT_IMGSZ,) * 2
    return ModelInfo(
        names=names,
        stride=stride,
        export_hw=export_hw,
        fixed_hw=fixed_hw,
        input_name=input_name,
        input_dtype=input_dtype,
        output_name=output_name,
        precision=meta.get(PRECISION_KEY) or ("fp16" if input_dtype == np.float16 else "fp32"),
        batches=batches,
    )


def model_version(path: Path) -> str:
    """What to call the model: "<name> v<version>" from its card, else the file stem.

    The card is `<stem>.json` beside the model (the bundled model, `tvdesk train`) or
    `card.json` in its folder (a registry version folder); an int8 copy has its model's card.
    """
    model = fp32_path(path)
    for card in (model.with_suffix(".json"), path.with_name("card.json")):
        if card.is_file():
            fields = _read_card(card)
            name, version = fields.get("name"), fields.get("version")
            if version:
                return f"{name} v{version}" if name else str(version)
    return model.stem


def _read_card(card: Path) -> dict:
    try:
        fields = json.loads(card.read_text())
    except (OSError, ValueError) as exc:
        logger.warning("model card %s is unreadable (%s); naming the model by its file", card, exc)
        return {}
    return fields if isinstance(fields, dict) else {}


def _check_task(path: Path, meta: dict[str, str]) -> None:
    task = meta.get("task", "detect")
    if task != "detect":
        raise DetectorError(
            f"{path} is a '{task}' model; tvdesk needs a detection model "
            f"(task 'detect'): {EXPORT_HINT}"
        )
    args = _literal(meta.get("args")) or {}
    if _literal(meta.get("end2end")) or (isinstance(args, dict) and args.get("nms")):
        raise DetectorError(
            f"{path} has NMS built in (an end-to-end export); tvdesk decodes "
            f"the raw head: re-export it without nms/end2end"
        )


def _input_signature(
    path: Path, session: ort.InferenceSession
) -> tuple[str, type, tuple[int, int] | None]:
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise DetectorError(
            f"{path}: expected one image input [1, 3, H, W], found "
            f"{[(i.name, i.shape) for i in inputs]}; {EXPORT_HINT}"
        )
    name, shape, kind = inputs[0].name, inputs[0].shape, inputs[0].type
    if isinstance(shape[0], int) and shape[0] != 1:
        raise DetectorError(
            f"{path}: input '{name}' takes batches of {shape[0]}; tvdesk runs "
            f"one frame at a time: export with batch=1 or dynamic=True"
        )
    if kind not in INPUT_DTYPES:
        raise DetectorError(
            f"{path}: input '{name}' is {kind}; tvdesk feeds float32 or float16 images"
        )
    if shape[1] not in (3, None) and not isinstance(shape[1], str):
        raise DetectorError(
            f"{path}: input '{name}' has {shape[1]} channels; tvdesk feeds 3-channel RGB images"
        )
    h, w = shape[2:]
    fixed = (h, w) if isinstance(h, int) and isinstance(w, int) else None
    return name, INPUT_DTYPES[kind], fixed


def _output_signature(path: Path, session: ort.InferenceSession) -> tuple[str, int | None]:
    outputs = session.get_outputs()
    shape = outputs[0].shape
    if len(outputs) != 1 or len(shape) != 3:
        raise DetectorError(
            f"{path}: cannot decode outputs {[(o.name, o.shape) for o in outputs]}; tvdesk "
            f"expects one raw detection output [1, 4 + classes, anchors]; {EXPORT_HINT}"
        )
    channels = shape[1] if isinstance(shape[1], int) else None
    if channels is not None and channels < 5:
        raise DetectorError(f"{path}: output {outputs[0].name} {shape} has no class scores")
    return outputs[0].name, channels


def _class_names(path: Path, meta: dict[str, str], channels: int | None) -> tuple[str, ...]:
    names = _literal(meta.get("names"))
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names:
        if channels is None:
            raise DetectorError(
                f"{path}: no class names in the metadata and the output shape "
                f"does not say how many classes there are; {EXPORT_HINT}"
            )
        logger.warning(
            "%s has no class names in its metadata; calling them class0..class%d",
            path,
            channels - 5,
        )
        return tuple(f"class{i}" for i in range(channels - 4))
    if channels is not None and channels != 4 + len(names):
        raise DetectorError(
            f"{path}: the output has {channels} values per box but the metadata names "
            f"{len(names)} classes (4 + {len(names)} = {4 + len(names)} expected); "
            f"segmentation and pose exports are not detection models: {EXPORT_HINT}"
        )
    return tuple(str(n) for n in names)


def _literal(text: str | None) -> object:
    """A metadata value as Python (Ultralytics writes them as Python literals)."""
    if text is None:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _pair(value: object) -> tuple[int, int] | None:
    if isinstance(value, int):
        return value, value
    if isinstance(value, list | tuple) and len(value) == 2:
        return int(value[0]), int(value[1])
    return None
