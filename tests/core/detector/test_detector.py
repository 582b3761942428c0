"""OnnxDetector on the bundled model: what it reads, what it finds, and what callers can change."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from detector_support import synthetic_frames

from tvdesk.core.detector import OnnxDetector, StageTimes, Thresholds
from tvdesk.core.detector.detections import box_iou
from tvdesk.core.synth import CLASS_NAMES, RoadCamera, SceneRenderer, preset
from tvdesk.core.synth.vehicles import sample_traffic


@pytest.fixture(scope="module")
def detector(bundled_model) -> OnnxDetector:
    return OnnxDetector(bundled_model)


@pytest.fixture(scope="module")
def day_frame() -> np.ndarray:
    return synthetic_frames(1280, 720, ("day",))[0]


def test_reads_the_bundled_export(detector, bundled_model):
    assert detector.path == bundled_model
    assert detector.names == list(CLASS_NAMES)
    assert detector.version == "tvdesk-base"
    assert detector.info.dynamic and detector.info.stride == 32
    assert detector.input_hw == (320, 320)  # the export size from the metadata
    assert detector.providers[-1] == "CPUExecutionProvider"


@pytest.mark.parametrize(
    ("options", "frame_hw", "tensor_hw"),
    [
        ({}, (720, 1280), (192, 320)),
        ({}, (360, 640), (192, 320)),
        ({}, (240, 320), (256, 320)),
        ({"imgsz": 640}, (720, 1280), (384, 640)),
        ({"imgsz": 300}, (720, 1280), (192, 320)),  # rounded up to the stride, as Ultralytics does
        ({"rect": False}, (720, 1280), (320, 320)),
    ],
)
def test_dynamic_model_is_letterboxed_to_a_minimal_rectangle(
    bundled_model, options, frame_hw, tensor_hw
):
    detector = OnnxDetector(bundled_model, **options)
    frame = np.zeros((*frame_hw, 3), np.uint8)
    assert detector.prepare(frame).shape == (1, 3, *tensor_hw)


def test_finds_the_labelled_vehicles(detector):
    renderer = SceneRenderer(RoadCamera().resized(1280, 720))
    found = labelled = 0
    for seed in range(3):
        rng = np.random.default_rng(seed)
        synth = renderer.render(sample_traffic(rng, renderer.camera, 0.8), preset("day"), rng)
        detections = detector.detect(synth.image)
        assert detections.xyxy.dtype == np.float32 and detections.class_ids.dtype == np.int64
        assert (detections.xyxy >= 0).all() and (detections.xyxy[:, [0, 2]] <= 1280).all()
        found += _matched(synth.truth.boxes, detections.xyxy)
        labelled += len(synth.truth)
    assert found >= 0.8 * labelled, f"found {found} of {labelled} labelled vehicles"


def _matched(truth: np.ndarray, boxes: np.ndarray, min_iou: float = 0.5) -> int:
    """How many truth boxes have a detection with IoU >= min_iou."""
    if not len(truth) or not len(boxes):
        return 0
    return int((box_iou(truth, boxes).max(axis=1) >= min_iou).sum())


def test_thresholds_change_from_the_next_frame(bundled_model, day_frame):
    detector = OnnxDetector(bundled_model, conf=0.05)
    everything = detector.detect(day_frame)
    assert len(everything) >= 3
    cars = int(np.flatnonzero(np.array(detector.names) == "car")[0])
    assert detector.set_thresholds(classes=[cars]) == Thresholds(conf=0.05, classes=(cars,))
    assert set(detector.detect(day_frame).class_ids) <= {cars}
    detector.set_thresholds(classes=None, conf=0.5)
    confident = detector.detect(day_frame)
    assert (confident.scores > 0.5).all()
    assert len(confident) == int((everything.scores > 0.5).sum())
    detector.set_thresholds(max_det=1, conf=0.05)
    assert len(detector.detect(day_frame)) == 1


def test_grey_and_bgra_frames_are_converted(detector, day_frame):
    grey = cv2.cvtColor(day_frame, cv2.COLOR_BGR2GRAY)
    as_bgr = detector.detect(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    for frame in (grey, grey[..., None]):
        np.testing.assert_array_equal(detector.detect(frame).xyxy, as_bgr.xyxy)
    bgra = cv2.cvtColor(day_frame, cv2.COLOR_BGR2BGRA)
    np.testing.assert_array_equal(detector.detect(bgra).xyxy, detector.detect(day_frame).xyxy)
    crop = day_frame[100:500:2, 200:900]  # a strided view is fine too
    assert len(detector.detect(crop)) == len(detector.detect(np.ascontiguousarray(crop)))


def test_stage_times_of_the_last_call(detector, day_frame):
    detector.detect(day_frame)
    times = detector.timings
    assert isinstance(times, StageTimes)
    assert times.preprocess_ms > 0 and times.inference_ms > 0 and times.postprocess_ms > 0
    assert times.total_ms == pytest.approx(
        times.preprocess_ms + times.inference_ms + times.postprocess_ms
    )
    assert detector.last_frame_hw == (720, 1280)


def test_version_comes_from_the_model_card(bundled_model, tmp_path, caplog):
    model = shutil.copy(bundled_model, tmp_path / "candidate.onnx")
    assert OnnxDetector(model).version == "candidate"
    card = tmp_path / "candidate.json"
    card.write_text(json.dumps({"name": "tvdesk-night", "version": "7"}))
    assert OnnxDetector(model).version == "tvdesk-night v7"
    card.write_text("{ not json")
    assert OnnxDetector(model).version == "candidate"
    assert "unreadable" in caplog.text
    registered = tmp_path / "tvdesk-base" / "3"  # a registry version folder
    registered.mkdir(parents=True)
    shutil.copy(bundled_model, registered / "model.onnx")
    (registered / "card.json").write_text(json.dumps({"name": "tvdesk-base", "version": "3"}))
    assert OnnxDetector(registered / "model.onnx").version == "tvdesk-base v3"


def test_engine_imports_neither_qt_nor_torch_nor_ultralytics():
    code = (
        "import sys, tvdesk.core.detector; "
        "bad = {'torch', 'ultralytics', 'PySide6', 'pyqtgraph'} & set(sys.modules); "
        "sys.exit(', '.join(sorted(bad)) or None)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
