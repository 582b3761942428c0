"""The bundled int8 copies in the detector: our boxes are Ultralytics' own on the same int8 file
(real footage and synthetic scenes), and a swap to an int8 copy and back loses no frame."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from detector_support import synthetic_frames, video_frames
from test_detector_exactness import assert_same_detections, predict
from test_detector_slot import Stream

from tvdesk.config import resources_dir
from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.detector.int8_copy import int8_path

MODELS = resources_dir() / "models"
FRAME_INDICES = (40, 150, 300)
CONF = 0.25  # the player's default


@pytest.fixture(scope="module")
def yolo():
    """Ultralytics' YOLO class, offline; without the `train` extra these tests skip."""
    pytest.importorskip("ultralytics", reason="exactness tests need ultralytics (train extra)")
    from tvdesk.training.offline import ultralytics_offline

    return ultralytics_offline().YOLO


@pytest.fixture(scope="module")
def real_frames(realdata) -> list[np.ndarray]:
    return video_frames(realdata / "videos", FRAME_INDICES)


@pytest.fixture(scope="module")
def scenes() -> list[np.ndarray]:
    return synthetic_frames(1280, 720, ("day", "dusk", "rain")) + synthetic_frames(
        640, 360, ("day", "fog"), seed=1
    )


@pytest.mark.parametrize(
    ("name", "imgsz", "frames"),
    [
        ("tvdesk-traffic", 480, "real_frames"),
        ("tvdesk-traffic", 320, "real_frames"),
        ("tvdesk-base", 320, "scenes"),
        ("tvdesk-base", 320, "real_frames"),
    ],
)
def test_our_detector_gives_ultralytics_boxes_on_an_int8_copy(name, imgsz, frames, yolo, request):
    int8 = int8_path(MODELS / f"{name}.onnx")
    detector = OnnxDetector(int8, imgsz=imgsz, conf=CONF)
    assert detector.precision == "int8" and detector.rect
    model = yolo(str(int8), task="detect")
    found = 0
    for frame in request.getfixturevalue(frames):
        ours = detector.detect(frame)
        assert_same_detections(ours, predict(model, frame, detector))
        found += len(ours)
    assert found > 0, f"the int8 {name} should find road users in these frames"


def test_a_swap_to_an_int8_copy_and_back_loses_no_frame(bundled_model, tmp_path):
    """The hot-swap test's stream, swapping between the fp32 model and an int8 copy (under
    another name, so that the frames say which one ran them)."""
    fp32 = bundled_model
    int8 = shutil.copy(int8_path(fp32), tmp_path / "tvdesk-int8.int8.onnx")
    slot = DetectorSlot(OnnxDetector(fp32))
    frames = synthetic_frames(640, 360, ("day", "dusk", "night"))
    events = []
    with Stream(slot, frames) as stream:
        time.sleep(0.3)
        for path in (int8, fp32, int8):
            events.append(slot.load_and_swap(path))
            time.sleep(0.2)
    assert not stream.errors
    assert [e.accepted for e in events] == [True] * 3, [e.reason for e in events]
    assert [number for number, _, _ in stream.results] == list(range(stream.sent))
    used = [version for _, version, _ in stream.results]
    runs = [v for i, v in enumerate(used) if i == 0 or used[i - 1] != v]
    assert runs == ["tvdesk-base", "tvdesk-int8"] * 2
    assert slot.current.precision == "int8" and slot.current.path == int8
    assert sum(boxes for _, _, boxes in stream.results) > 0
