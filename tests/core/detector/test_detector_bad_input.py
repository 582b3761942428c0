"""Bad models and bad frames: a clear DetectorError naming the file and the problem, or handled.

The models are real ONNX files (see detector_support): exports of the wrong task, outputs we
cannot decode, metadata without names, NaN in the output.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from detector_support import fixed_output_model, raw_output, ultralytics_metadata

from tvdesk.core.detector import DetectorError, OnnxDetector

NAMES = ["car", "truck", "bus", "motorcycle"]


def head(n: int = 6, classes: int = 4) -> np.ndarray:
    """A raw head with n boxes in a row, the i-th scoring 0.9 for class i % classes."""
    boxes = np.array([[40 + 50 * i, 100, 40, 30] for i in range(n)], np.float32)
    scores = np.zeros((n, classes), np.float32)
    scores[np.arange(n), np.arange(n) % classes] = 0.9
    return raw_output(boxes, scores)


@pytest.fixture
def good_model(tmp_path):
    return fixed_output_model(tmp_path / "good.onnx", [head()], ultralytics_metadata(NAMES))


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.onnx"
    with pytest.raises(DetectorError, match="not found") as info:
        OnnxDetector(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"not a model at all\n" * 50, b""], ids=["text", "empty"])
def test_file_that_is_not_onnx(tmp_path, content):
    path = tmp_path / "notes.onnx"
    path.write_bytes(content)
    with pytest.raises(DetectorError, match="not an ONNX model") as info:
        OnnxDetector(path)
    assert str(path) in str(info.value)


def test_truncated_onnx_file(tmp_path, good_model):
    data = good_model.read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DetectorError, match=str(path)):
        OnnxDetector(path)


@pytest.mark.parametrize(
    ("task", "outputs"),
    [
        ("classify", [np.zeros((1, 1000), np.float32)]),
        (
            "segment",
            [np.zeros((1, 4 + 4 + 32, 2100), np.float32), np.zeros((1, 32, 80, 80), np.float32)],
        ),
        ("pose", [np.zeros((1, 4 + 4 + 51, 2100), np.float32)]),
        ("obb", [np.zeros((1, 4 + 4 + 1, 2100), np.float32)]),
    ],
)
def test_exports_of_other_tasks_are_rejected(tmp_path, task, outputs):
    path = fixed_output_model(
        tmp_path / f"{task}.onnx", outputs, ultralytics_metadata(NAMES, task=task)
    )
    with pytest.raises(DetectorError, match=f"is a '{task}' model") as info:
        OnnxDetector(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([np.zeros((1, 84), np.float32)], "cannot decode outputs"),
        ([np.zeros((1, 2100, 8), np.float32)], "2100 values per box but the metadata names 4"),
        (
            [np.zeros((1, 40, 2100), np.float32), np.zeros((1, 32, 80, 80), np.float32)],
            "cannot decode outputs",
        ),
        ([np.zeros((1, 3, 2100), np.float32)], "has no class scores"),
    ],
    ids=["rank-2", "transposed", "two-outputs", "too-few-channels"],
)
def test_output_shapes_we_cannot_decode(tmp_path, outputs, message):
    path = fixed_output_model(tmp_path / "odd.onnx", outputs, ultralytics_metadata(NAMES))
    with pytest.raises(DetectorError, match=message):
        OnnxDetector(path)


def test_end_to_end_export_is_rejected(tmp_path):
    path = fixed_output_model(
        tmp_path / "e2e.onnx",
        [np.zeros((1, 300, 6), np.float32)],
        ultralytics_metadata(NAMES, end2end="True"),
    )
    with pytest.raises(DetectorError, match="NMS built in"):
        OnnxDetector(path)


def test_input_we_cannot_feed(tmp_path):
    batch4 = fixed_output_model(
        tmp_path / "batch4.onnx",
        [head()],
        ultralytics_metadata(NAMES),
        input_shape=(4, 3, 320, 320),
    )
    with pytest.raises(DetectorError, match="batches of 4"):
        OnnxDetector(batch4)
    grey_input = fixed_output_model(
        tmp_path / "grey.onnx", [head()], ultralytics_metadata(NAMES), input_shape=(1, 1, 320, 320)
    )
    with pytest.raises(DetectorError, match="1 channels"):
        OnnxDetector(grey_input)


def test_metadata_without_names_falls_back_to_numbered_classes(tmp_path, caplog):
    path = fixed_output_model(tmp_path / "anon.onnx", [head(classes=3)], ultralytics_metadata(None))
    with caplog.at_level(logging.WARNING):
        detector = OnnxDetector(path)
    assert detector.names == ["class0", "class1", "class2"]
    assert "no class names" in caplog.text
    detections = detector.detect(np.zeros((320, 320, 3), np.uint8))
    assert detections.labels() == ["class0", "class1", "class2"] * 2


def test_fixed_input_model_refuses_another_imgsz(tmp_path):
    path = fixed_output_model(
        tmp_path / "fixed.onnx", [head()], ultralytics_metadata(NAMES), input_shape=(1, 3, 320, 320)
    )
    assert OnnxDetector(path).input_hw == (320, 320)
    with pytest.raises(DetectorError, match="fixed 320x320 input"):
        OnnxDetector(path, imgsz=640)


def test_unknown_execution_provider(good_model):
    with pytest.raises(DetectorError, match=r"TensorRTExecutionProvider.*choose from"):
        OnnxDetector(good_model, providers=["TensorRTExecutionProvider"])


@pytest.mark.parametrize(
    "values", [{"conf": 1.5}, {"iou": -0.1}, {"max_det": 0}, {"classes": [-1]}]
)
def test_bad_thresholds(good_model, values):
    with pytest.raises(ValueError):
        OnnxDetector(good_model, **values)
    with pytest.raises(ValueError):
        OnnxDetector(good_model).set_thresholds(**values)


@pytest.mark.parametrize("shape", [(0, 0, 3), (480, 0, 3), (0, 640), (0,)])
def test_empty_frames_give_no_boxes_and_the_stream_goes_on(good_model, shape, caplog):
    detector = OnnxDetector(good_model)
    with caplog.at_level(logging.WARNING):
        empty = detector.detect(np.zeros(shape, np.uint8))
    assert len(empty) == 0 and empty.names == tuple(NAMES)
    assert "empty frame" in caplog.text
    assert len(detector.detect(np.zeros((320, 320, 3), np.uint8))) == 6


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((320, 320, 3), np.float32), "uint8"),
        (None, "uint8 numpy images, got NoneType"),
        (np.zeros((320, 320, 5), np.uint8), "shape"),
        (np.zeros((2, 320, 320, 3), np.uint8), "shape"),
    ],
)
def test_frames_we_cannot_read(good_model, frame, message):
    with pytest.raises(DetectorError, match=message) as info:
        OnnxDetector(good_model).detect(frame)
    assert str(good_model) in str(info.value)


def test_nan_in_the_output_is_dropped_and_fails_the_warm_up(tmp_path, caplog):
    raw = head()
    raw[0, 0, 1] = np.nan  # a confident box with a NaN coordinate
    raw[0, 4:, 2] = np.nan  # NaN scores
    raw[0, 2, 3] = np.inf  # an infinite width
    path = fixed_output_model(tmp_path / "nan.onnx", [raw], ultralytics_metadata(NAMES))
    detector = OnnxDetector(path)
    with caplog.at_level(logging.WARNING):
        detections = detector.detect(np.zeros((360, 640, 3), np.uint8))
    assert len(detections) == 3 and np.isfinite(detections.xyxy).all()
    assert "dropped 2 boxes with NaN" in caplog.text
    with pytest.raises(DetectorError, match="NaN or infinity"):
        detector.warm_up()


def test_a_nan_score_hides_no_confident_box_and_a_quiet_output_gives_none(tmp_path):
    """The empty-frame shortcut (one OpenCV maximum over the scores) must not be fooled by a
    NaN, whose place in the scan can make a vectorised maximum skip what came before it."""
    boxes = np.array([[100, 100, 40, 40], [200, 120, 50, 30], [300, 150, 60, 40]], np.float32)
    scores = np.array([[np.nan, 0.1], [0.2, 0.9], [0.1, 0.05]], np.float32)
    confident = fixed_output_model(
        tmp_path / "nan-score.onnx",
        [raw_output(boxes, scores)],
        ultralytics_metadata(["car", "bus"]),
    )
    found = OnnxDetector(confident).detect(np.zeros((320, 320, 3), np.uint8))
    assert found.labels() == ["bus"] and found.scores.tolist() == pytest.approx([0.9])
    quiet = fixed_output_model(
        tmp_path / "quiet.onnx",
        [raw_output(boxes, np.full((3, 2), 0.25, np.float32))],  # at the threshold: not above
        ultralytics_metadata(["car", "bus"]),
    )
    assert len(OnnxDetector(quiet).detect(np.zeros((320, 320, 3), np.uint8))) == 0
