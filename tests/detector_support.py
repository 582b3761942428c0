"""Real inputs for the detector tests: frames (synthetic and from the real videos) and small
ONNX models with a chosen output.

The models are genuine ONNX files that ONNX Runtime (and Ultralytics) load and run behind an
Ultralytics export's signature and metadata; their output is a fixed tensor, so a test can put
exactly the boxes, ties, NaNs or shapes it needs in front of the decoder. Building them needs
the `onnx` package (the `train` extra); tests that do skip without it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tvdesk.core.synth import RoadCamera, SceneRenderer, preset
from tvdesk.core.synth.vehicles import sample_traffic

VIDEOS = (
    "overhead_day_intel_car-detection.mp4",
    "cctv_highway_day_bgs_video02.avi",
    "dashcam_city_day_tmo_seattle1.mp4",
    "dashcam_night_tmo.mp4",
)


def synthetic_frames(
    width: int, height: int, conditions: tuple[str, ...], seed: int = 0
) -> list[np.ndarray]:
    """One rendered traffic frame per condition, `width` x `height`."""
    renderer = SceneRenderer(RoadCamera().resized(width, height))
    frames = []
    for i, name in enumerate(conditions):
        rng = np.random.default_rng([seed, i])
        traffic = sample_traffic(rng, renderer.camera, 0.8)
        frames.append(renderer.render(traffic, preset(name), rng).image)
    return frames


def video_frames(videos: Path, indices: tuple[int, ...]) -> list[np.ndarray]:
    """Frames at `indices` of each real video (those that decode)."""
    frames = []
    for name in VIDEOS:
        capture = cv2.VideoCapture(str(videos / name))
        for index in indices:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if ok:
                frames.append(frame)
        capture.release()
    return frames


def _onnx():
    return pytest.importorskip("onnx", reason="building test models needs onnx (the train extra)")


def ultralytics_metadata(
    names: list[str] | None, task: str = "detect", imgsz: tuple[int, int] = (320, 320), **extra: str
) -> dict[str, str]:
    """Metadata as Ultralytics writes it into every export (values are Python literals)."""
    meta = {
        "task": task,
        "stride": "32",
        "batch": "1",
        "imgsz": str(list(imgsz)),
        "end2end": "False",
        "channels": "3",
        "author": "tvdesk tests",
    }
    if names is not None:
        meta["names"] = str(dict(enumerate(names)))
    return meta | extra


def fixed_output_model(
    path: Path,
    outputs: list[np.ndarray],
    metadata: dict[str, str],
    input_shape: tuple = ("batch", 3, "height", "width"),
    input_type: type = np.float32,
) -> Path:
    """An image-in model whose outputs (output0, output1, ...) are the given arrays.

    Each output is its array plus zero times one input pixel, so that its batch dimension
    follows the input's as in a real export (Ultralytics reads a symbolic output batch as
    "dynamic model").
    """
    onnx = _onnx()
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    types = {np.float32: onnx.TensorProto.FLOAT, np.float16: onnx.TensorProto.FLOAT16}

    def constant(name: str, array: np.ndarray):
        return helper.make_node(
            "Constant", [], [name], value=numpy_helper.from_array(array, name=f"{name}_value")
        )

    nodes = [
        constant("starts", np.zeros(3, np.int64)),
        constant("ends", np.ones(3, np.int64)),
        constant("axes", np.array([1, 2, 3], np.int64)),
        constant("nothing", np.zeros((), input_type)),
        helper.make_node("Slice", ["images", "starts", "ends", "axes"], ["pixel"]),
        helper.make_node("Mul", ["pixel", "nothing"], ["zero"]),  # [batch, 1, 1, 1]
    ]
    values = []
    for i, array in enumerate(outputs):
        name, rank = f"output{i}", array.ndim
        nodes += [
            constant(f"{name}_shape", np.array([-1] + [1] * (rank - 1), np.int64)),
            helper.make_node("Reshape", ["zero", f"{name}_shape"], [f"{name}_zero"]),
            helper.make_node(
                "Cast", [f"{name}_zero"], [f"{name}_typed"], to=types[array.dtype.type]
            ),
            constant(f"{name}_const", array),
            helper.make_node("Add", [f"{name}_const", f"{name}_typed"], [name]),
        ]
        shape = [input_shape[0], *array.shape[1:]]
        values.append(helper.make_tensor_value_info(name, types[array.dtype.type], shape))
    image = helper.make_tensor_value_info("images", types[input_type], list(input_shape))
    graph = helper.make_graph(nodes, "fixed_output", [image], values)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path


def raw_output(boxes_xywh: np.ndarray, class_scores: np.ndarray) -> np.ndarray:
    """A raw YOLO head output [1, 4 + nc, N] from N boxes (cx, cy, w, h) and their scores."""
    return np.concatenate([boxes_xywh.T, class_scores.T]).astype(np.float32)[None]


def strip_names(source: Path, target: Path) -> Path:
    """A copy of a real export without the `names` metadata."""
    onnx = _onnx()
    model = onnx.load(str(source))
    kept = [p for p in model.metadata_props if p.key != "names"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.save(model, str(target))
    return target


def to_float16(source: Path, target: Path) -> Path:
    """A float16 copy of a float32 export (inputs and outputs float16 too), metadata kept."""
    onnx = _onnx()
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=False)
    onnx.save(model, str(target))
    return target
