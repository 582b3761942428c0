"""Our detector on the committed traffic model against Ultralytics, on real footage.

The criterion is the detection engine's (same count, IoU >= 0.99, same class, score within
1e-3): Ultralytics' predict on the same ONNX file, and on the `.pt` it was exported from, at
the model's default input size and at 320, rectangular letterbox as the player runs it.
"""

from __future__ import annotations

import pytest
from detector_support import video_frames
from test_detector_exactness import assert_same_detections, predict

from tvdesk.config import resources_dir
from tvdesk.core.detector import OnnxDetector

FRAME_INDICES = (40, 150, 300)
CONF = 0.25  # the player's default


@pytest.fixture(scope="module")
def traffic_onnx():
    path = resources_dir() / "models" / "tvdesk-traffic.onnx"
    if not path.exists():
        pytest.fail(f"traffic model missing at {path}: it is committed under resources/models")
    return path


@pytest.fixture(scope="module")
def yolo():
    """Ultralytics' YOLO class, offline; without the `train` extra these tests skip."""
    pytest.importorskip("ultralytics", reason="exactness tests need ultralytics (train extra)")
    from tvdesk.training.offline import ultralytics_offline

    return ultralytics_offline().YOLO


@pytest.fixture(scope="module")
def real_frames(realdata):
    return video_frames(realdata / "videos", FRAME_INDICES)


@pytest.mark.parametrize("imgsz", [None, 320], ids=["default", "320"])
@pytest.mark.parametrize("weights", ["onnx", "pt"])
def test_traffic_model_gives_ultralytics_boxes_on_real_frames(
    traffic_onnx, real_frames, yolo, imgsz, weights
):
    detector = OnnxDetector(traffic_onnx, imgsz=imgsz, conf=CONF)
    assert detector.info.dynamic and detector.rect
    model = yolo(str(traffic_onnx.with_suffix(f".{weights}")), task="detect")
    found = 0
    for frame in real_frames:
        ours = detector.detect(frame)
        assert_same_detections(ours, predict(model, frame, detector))
        found += len(ours)
    assert found >= len(real_frames), "the traffic model should find road users in real footage"
