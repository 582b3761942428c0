"""int8 copies made and gated for real: ONNX Runtime's static quantization of the bundled model,
calibrated on base training images, gated with our detector on base val; a copy whose output is
quantized too fails the gate; percentile calibration on frames of mixed sizes, tried after
MinMax, both recorded; bad input means fp32, said once in the log and in the verdict."""

from __future__ import annotations

import json
import logging
import shutil

import cv2
import numpy as np
import pytest
from detector_support import fixed_output_model, raw_output, ultralytics_metadata

from tvdesk.config import project_root
from tvdesk.core.atomic import sha256_of
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.detections import box_iou
from tvdesk.core.detector.int8_copy import gated_int8, int8_path
from tvdesk.training.accuracy import LabelledFolder
from tvdesk.training.int8 import MIN_CALIBRATION_FRAMES, TOLERANCE, gate, make_int8
from tvdesk.training.int8_quantize import QuantizationError, decode_tail, quantize

onnx = pytest.importorskip("onnx", reason="quantization needs onnx (the train extra)")
pytest.importorskip("ultralytics", reason="the gate's mAP needs ultralytics (the train extra)")

BASE = project_root() / "data" / "base"
CALIBRATION, VAL = 24, 60  # images: enough for a stable verdict, few enough for a quick test
MIXED = 20  # percentile calibration frames, every fifth of them cropped square


@pytest.fixture(scope="module")
def base_data() -> LabelledFolder:
    if not (BASE / "data.yaml").exists():
        pytest.fail("data/base is missing: run `make setup` (the README's test command does)")
    return LabelledFolder.from_yaml(BASE / "data.yaml")


@pytest.fixture(scope="module")
def held_out(base_data) -> dict[str, LabelledFolder]:
    return {"base_val": base_data.subset(base_data.images[:VAL])}


@pytest.fixture(scope="module")
def train_images():
    return sorted((BASE / "images" / "train").glob("*.jpg"))


def _square(frame: np.ndarray) -> np.ndarray:
    """The frame's left square: another aspect ratio, so another input shape once letterboxed."""
    return np.ascontiguousarray(frame[:, : frame.shape[0]])


def _model_copy(bundled_model, folder):
    """The bundled model and its card in `folder`, without the int8 copy that ships beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".onnx", ".json"):
        shutil.copy(bundled_model.with_suffix(suffix), folder)
    return folder / bundled_model.name


@pytest.fixture(scope="module")
def made(bundled_model, held_out, train_images, tmp_path_factory):
    model = _model_copy(bundled_model, tmp_path_factory.mktemp("made"))
    return model, make_int8(model, train_images[:CALIBRATION], held_out, 320, source="test")


def test_the_int8_copy_of_the_bundled_model_passes_its_gate(made):
    model, verdict = made
    assert verdict.passed and not verdict.reason
    assert verdict.file == int8_path(model) == model.with_name("tvdesk-base.int8.onnx")
    fp32, int8 = verdict.map50["base_val@320"].values()
    assert fp32 > 0.5 and fp32 - int8 <= TOLERANCE
    detector = OnnxDetector(verdict.file)
    assert detector.precision == "int8" and detector.info.dynamic
    assert detector.names == OnnxDetector(model).names and OnnxDetector(model).precision == "fp32"
    assert verdict.file.stat().st_size < model.stat().st_size / 3


def test_its_card_entry_is_what_the_player_reads(made):
    model, verdict = made
    entry = verdict.as_card()
    assert entry["sha256"] == sha256_of(verdict.file) and entry["file"] == verdict.file.name
    assert (entry["imgsz"], entry["export_imgsz"], entry["tolerance"]) == ([320], 320, TOLERANCE)
    calibration = entry["calibration"]
    assert calibration["method"] == "minmax" and calibration["frames"] == CALIBRATION
    assert (calibration["source"], calibration["imgsz"]) == ("test", 320)
    (attempt,) = calibration["attempts"]
    assert attempt["method"] == "minmax" and attempt["passed"] and not attempt["reason"]
    assert attempt["map50"] == entry["map50"] and attempt["seconds"] > 0
    assert "frame_size" not in attempt  # MinMax takes frames of any size
    assert gated_int8(model, 320)[0] is None  # no verdict in the card yet
    card = json.loads(model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps(card | {"int8": entry}))
    assert gated_int8(model, 320) == (verdict.file, "")
    assert gated_int8(model, None) == (verdict.file, "")  # the model's own size
    assert "not at 480" in gated_int8(model, 480)[1]


def test_the_decode_stays_float_and_every_other_conv_is_int8(made):
    model, verdict = made
    tail = set(decode_tail(onnx.load(str(model))))
    assert {"/model.22/dfl/MatMul", "/model.22/Sigmoid", "/model.22/Concat_26"} <= tail
    assert not [name for name in tail if "/cv2." in name or "/cv3." in name]
    graph = onnx.load(str(verdict.file)).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    int8_convs = [n.name for n in convs if n.input[1] in dequantized]
    assert len(int8_convs) == len(convs)  # the DFL's weighted sum is a MatMul, left float
    assert "/model.22/dfl/MatMul" not in {n.name for n in graph.node if dequantized & set(n.input)}
    decoded = {o for n in graph.node if n.name in tail for o in n.output}
    requantized = [n.name for n in graph.node if n.op_type == "QuantizeLinear"]
    assert requantized and not [
        n for n in graph.node if n.name in requantized and decoded & set(n.input)
    ]


def test_a_copy_with_its_output_quantized_too_fails_the_gate(
    bundled_model, held_out, train_images, tmp_path
):
    """Why the decode stays float: boxes and scores share one uint8 range, and the gate sees it."""
    model = _model_copy(bundled_model, tmp_path)
    detector = OnnxDetector(model, imgsz=320)
    tensors = [detector.prepare(cv2.imread(str(p))) for p in train_images[:CALIBRATION]]
    assert quantize(model, int8_path(model), tensors, keep_float=[]) == 0
    map50, failures = gate(model, int8_path(model), held_out, [320])
    assert map50["base_val@320"]["int8"] < 0.1 < map50["base_val@320"]["fp32"]
    assert len(failures) == 1 and "base_val@320" in failures[0] and "below fp32" in failures[0]


@pytest.fixture(scope="module")
def percentile(bundled_model, held_out, train_images, tmp_path_factory):
    """A percentile copy calibrated on frames of two sizes."""
    model = _model_copy(bundled_model, tmp_path_factory.mktemp("percentile"))
    frames = [cv2.imread(str(p)) for p in train_images[:MIXED]]
    frames = [_square(f) if i % 5 == 4 else f for i, f in enumerate(frames)]
    verdict = make_int8(model, frames, held_out, 320, source="test", methods=["percentile"])
    return model, verdict


def test_a_percentile_copy_from_frames_of_mixed_sizes_detects_as_fp32(percentile, held_out):
    model, verdict = percentile
    assert verdict.passed and verdict.method == "percentile" and verdict.file == int8_path(model)
    fp32, int8 = (OnnxDetector(path, imgsz=320) for path in (model, verdict.file))
    assert int8.precision == "int8" and fp32.precision == "fp32"
    frame = cv2.imread(str(held_out["base_val"].images[0]))
    expected, found = fp32.detect(frame), int8.detect(frame)
    assert len(expected) >= 3 and abs(len(found) - len(expected)) <= 1
    assert (box_iou(expected.xyxy, found.xyxy).max(axis=1) >= 0.8).mean() >= 0.8
    calibration = verdict.as_card()["calibration"]
    assert (calibration["method"], calibration["frames"]) == ("percentile", MIXED)
    (attempt,) = calibration["attempts"]
    assert (attempt["frame_size"], attempt["frames_resized"]) == ("640x360", MIXED // 5)
    assert attempt["passed"] and "99.99th percentile" in attempt["ranges"]


def test_where_no_copy_passes_each_method_is_tried_in_turn_and_recorded(
    bundled_model, held_out, train_images, tmp_path, caplog
):
    model = _model_copy(bundled_model, tmp_path)
    with caplog.at_level(logging.INFO, logger="tvdesk.training.int8"):
        verdict = make_int8(
            model, train_images[:MIN_CALIBRATION_FRAMES], held_out, 320, tolerance=-1.0
        )
    assert not verdict.passed and verdict.file is None and not int8_path(model).exists()
    entry = verdict.as_card()
    assert entry["tolerance"] == -1.0 and entry["calibration"]["method"] == "percentile"
    attempts = entry["calibration"]["attempts"]
    assert [a["method"] for a in attempts] == ["minmax", "percentile"]
    for attempt in attempts:
        m = attempt["map50"]["base_val@320"]
        assert not attempt["passed"] and attempt["seconds"] > 0 and m["int8"] > 0.5
        assert attempt["reason"].startswith("int8 mAP50 on base_val@320")
        assert m["fp32"] == entry["map50"]["base_val@320"]["fp32"]
    assert verdict.reason == f"minmax: {attempts[0]['reason']}; percentile: {attempts[1]['reason']}"
    assert "(-1.0 allowed)" in verdict.reason
    tried = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("minmax calibration failed" in m and "trying percentile" in m for m in tried)
    assert [r.levelno for r in caplog.records].count(logging.WARNING) == 1


def test_percentile_calibration_refuses_tensors_of_two_shapes(
    bundled_model, train_images, tmp_path
):
    model = _model_copy(bundled_model, tmp_path)
    detector = OnnxDetector(model, imgsz=320)
    frame = cv2.imread(str(train_images[0]))
    tensors = [detector.prepare(frame), detector.prepare(_square(frame))]
    with pytest.raises(
        QuantizationError, match="one shape, got 1 of 1x3x192x320, 1 of 1x3x320x320"
    ):
        quantize(model, int8_path(model), tensors, method="percentile")
    assert not int8_path(model).exists()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing folder", "does not exist"),
        ("another camera size", "of the camera's size 1280x720"),
        ("too few frames", f"{MIN_CALIBRATION_FRAMES} are needed"),
        ("no held-out set", "no held-out set"),
        ("no detection head", "detection head"),
    ],
)
def test_bad_input_means_fp32_said_once(
    case, reason, bundled_model, held_out, train_images, tmp_path, caplog
):
    model = _model_copy(bundled_model, tmp_path)
    calibration, sets, frame_hw = train_images[:CALIBRATION], held_out, None
    if case == "missing folder":
        calibration = tmp_path / "no-such-folder"
    elif case == "another camera size":
        frame_hw = (720, 1280)  # the base images are 640x360
    elif case == "too few frames":
        calibration = train_images[: MIN_CALIBRATION_FRAMES - 1]
    elif case == "no held-out set":
        sets = {}
    else:
        head = raw_output(np.array([[160.0, 160.0, 40.0, 30.0]]), np.array([[0.9]]))
        model = fixed_output_model(tmp_path / "plain.onnx", [head], ultralytics_metadata(["car"]))
    with caplog.at_level(logging.WARNING):
        verdict = make_int8(model, calibration, sets, 320, frame_hw=frame_hw)
    assert not verdict.passed and verdict.file is None and reason in verdict.reason
    assert not int8_path(model).exists()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "runs fp32" in warnings[0].getMessage()
    assert verdict.as_card()["passed"] is False and verdict.as_card()["file"] is None
