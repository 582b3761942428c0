"""Our detector against Ultralytics itself: same file and frames must give the same boxes.

The criterion of the detection-engine issue: same count, each box IoU >= 0.99 with its
counterpart, same class, score within 1e-3. In practice the match is bit-exact, because every
step copies Ultralytics' arithmetic; the parts are also checked alone (letterbox, NMS, decode).
Ultralytics and torch are the `train` extra: without them these tests skip.
"""

from __future__ import annotations

import numpy as np
import pytest
from detector_support import (
    fixed_output_model,
    raw_output,
    synthetic_frames,
    to_float16,
    ultralytics_metadata,
    video_frames,
)

from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.detections import Detections, box_iou
from tvdesk.core.detector.letterbox import Letterbox
from tvdesk.core.detector.yolo_output import (
    PAIRWISE_MAX,
    class_aware_nms,
    greedy_nms,
    select_candidates,
)

IOU_MIN, SCORE_TOL = 0.99, 1e-3


@pytest.fixture(scope="module")
def ultralytics(tmp_path_factory):
    """The ultralytics package, offline, with its settings in a temporary folder."""
    pytest.importorskip("ultralytics", reason="exactness tests need ultralytics (train extra)")
    from tvdesk.training.offline import configure_environment, ultralytics_offline

    configure_environment(tmp_path_factory.mktemp("ultralytics"))
    return ultralytics_offline()


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="exactness tests need torch (train extra)")


def assert_same_detections(ours: Detections, result) -> None:
    """The issue's criterion, each of our boxes against Ultralytics' best match of its class."""
    theirs_xyxy = result.boxes.xyxy.numpy()
    theirs_cls = result.boxes.cls.numpy().astype(np.int64)
    theirs_conf = result.boxes.conf.numpy()
    assert len(ours) == len(theirs_cls)
    if not len(ours):
        return
    iou = box_iou(ours.xyxy, theirs_xyxy)
    iou[ours.class_ids[:, None] != theirs_cls[None, :]] = -1
    match = iou.argmax(axis=1)
    assert len(set(match.tolist())) == len(ours), "two of our boxes match the same one"
    assert iou[np.arange(len(ours)), match].min() >= IOU_MIN
    assert np.abs(ours.scores - theirs_conf[match]).max() <= SCORE_TOL


def predict(yolo, frame: np.ndarray, detector: OnnxDetector, **overrides):
    t = detector.thresholds
    return yolo.predict(
        frame,
        conf=t.conf,
        iou=t.iou,
        max_det=t.max_det,
        verbose=False,
        imgsz=list(detector.input_hw),
        rect=detector.rect,
        **overrides,
    )[0]


@pytest.fixture(scope="module")
def scenes() -> list[np.ndarray]:
    """Synthetic scenes: 16:9 in two sizes, several conditions, and an odd-sized crop."""
    odd = synthetic_frames(800, 600, ("day",), seed=2)[0][37:570, 101:434]
    return (
        synthetic_frames(1280, 720, ("day", "night", "rain"))
        + synthetic_frames(640, 360, ("dusk", "fog"), seed=1)
        + [odd]
    )


@pytest.fixture(scope="module")
def bundled_yolo(bundled_model, ultralytics):
    return ultralytics.YOLO(str(bundled_model), task="detect")


@pytest.mark.parametrize("imgsz", [320, 640])
@pytest.mark.parametrize("rect", [True, False], ids=["rect", "square"])
def test_bundled_model_matches_ultralytics(bundled_model, bundled_yolo, scenes, imgsz, rect):
    detector = OnnxDetector(bundled_model, imgsz=imgsz, rect=rect, conf=0.1)
    found = 0
    for frame in scenes:
        ours = detector.detect(frame)
        assert_same_detections(ours, predict(bundled_yolo, frame, detector))
        found += len(ours)
    assert found >= len(scenes), "the bundled model should find vehicles in these scenes"


def test_preprocessing_is_bit_identical(bundled_model, bundled_yolo, scenes):
    detector = OnnxDetector(bundled_model)
    for frame in (scenes[0], scenes[-1]):
        predict(bundled_yolo, frame, detector)
        theirs = bundled_yolo.predictor.preprocess([frame]).numpy()
        np.testing.assert_array_equal(detector.prepare(frame), theirs)


def test_float16_export_matches_ultralytics(bundled_model, ultralytics, scenes, tmp_path):
    """Same boxes, to within Ultralytics' float16 arithmetic.

    Ultralytics decodes a float16 output in float16 (xywh -> xyxy, scaling), which rounds a
    corner by up to a float16 step: 0.25 model-input pixels below 512. We decode in float32.
    """
    half = to_float16(bundled_model, tmp_path / "tvdesk-base-fp16.onnx")
    detector = OnnxDetector(half, conf=0.1)
    assert detector.info.input_dtype == np.float16
    yolo = ultralytics.YOLO(str(half), task="detect")
    for frame in scenes[:2]:
        ours, theirs = detector.detect(frame), predict(yolo, frame, detector).boxes
        step = 0.25 * frame.shape[1] / detector.input_hw[1]
        np.testing.assert_allclose(ours.xyxy, theirs.xyxy.numpy(), rtol=0, atol=step)
        np.testing.assert_allclose(ours.scores, theirs.conf.numpy(), rtol=0, atol=SCORE_TOL)
        np.testing.assert_array_equal(ours.class_ids, theirs.cls.numpy().astype(np.int64))


def test_real_int8_coco_model_matches_ultralytics_on_real_video(realdata, ultralytics):
    model = realdata / "models" / "yolov8n_int8_320.onnx"
    detector = OnnxDetector(model)
    assert (detector.info.fixed_hw, len(detector.names)) == ((320, 320), 80)
    yolo = ultralytics.YOLO(str(model), task="detect")
    found = 0
    for frame in video_frames(realdata / "videos", (40, 300)):
        ours = detector.detect(frame)
        assert_same_detections(ours, predict(yolo, frame, detector))
        found += len(ours)
    assert found > 0, "the COCO model should see some cars in the real footage"


def test_nms_and_decode_match_ultralytics_on_a_crowded_head(ultralytics, tmp_path):
    """Hundreds of overlapping boxes, tied scores, three classes: the whole path, end to end."""
    rng = np.random.default_rng(5)
    centres = rng.uniform(40, 280, (12, 2))[rng.integers(0, 12, 900)] + rng.normal(0, 6, (900, 2))
    sizes = rng.uniform(20, 90, (900, 2))
    scores = rng.choice(np.linspace(0.05, 0.95, 40), (900, 3)).astype(np.float32)
    raw = raw_output(np.hstack([centres, sizes]), scores)
    model = fixed_output_model(
        tmp_path / "crowded.onnx", [raw], ultralytics_metadata(["car", "truck", "bus"])
    )
    yolo = ultralytics.YOLO(str(model), task="detect")
    frame = np.zeros((480, 640, 3), np.uint8)
    for conf, iou, classes in [(0.25, 0.7, None), (0.5, 0.45, None), (0.1, 0.3, [0, 2])]:
        detector = OnnxDetector(model, conf=conf, iou=iou, classes=classes)
        ours = detector.detect(frame)
        theirs = predict(yolo, frame, detector, classes=classes)
        assert len(ours) > 10
        np.testing.assert_array_equal(ours.xyxy, theirs.boxes.xyxy.numpy())
        np.testing.assert_array_equal(ours.scores, theirs.boxes.conf.numpy())
        np.testing.assert_array_equal(ours.class_ids, theirs.boxes.cls.numpy().astype(np.int64))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("count", [400, PAIRWISE_MAX + 200])  # all pairs at once, and box by box
def test_greedy_nms_keeps_what_torchvision_keeps(torch, seed, count):
    torchvision = pytest.importorskip("torchvision", reason="needs torchvision (train extra)")
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, (count, 2)).astype(np.float32)
    wh = rng.choice([0.0, 5.0, 30.0, 60.0], (count, 2)).astype(np.float32)  # empty boxes too
    boxes = np.hstack([xy, xy + wh])
    scores = rng.choice(np.linspace(0, 1, 25), count).astype(np.float32)  # many ties
    for iou in (0.3, 0.45, 0.5, 0.7, 0.9):
        expected = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou)
        np.testing.assert_array_equal(greedy_nms(boxes, scores, iou), expected.numpy())


@pytest.mark.parametrize("seed", range(4))
def test_decode_matches_ultralytics_non_max_suppression(ultralytics, torch, seed):
    from ultralytics.utils.nms import non_max_suppression

    rng = np.random.default_rng(seed)
    boxes = np.hstack([rng.uniform(0, 640, (3000, 2)), rng.uniform(2, 200, (3000, 2))])
    raw = raw_output(boxes, rng.uniform(0, 0.6, (3000, 80)) ** 2)
    for conf, iou, classes, max_det in [(0.25, 0.7, None, 300), (0.05, 0.5, (2, 7), 20)]:
        candidates = select_candidates(raw, 80, conf, classes)
        ours = class_aware_nms(candidates, iou, max_det)
        theirs = non_max_suppression(
            torch.from_numpy(raw), conf, iou, classes and list(classes), max_det=max_det
        )[0].numpy()
        np.testing.assert_array_equal(ours.xyxy, theirs[:, :4])
        np.testing.assert_array_equal(ours.scores, theirs[:, 4])
        np.testing.assert_array_equal(ours.class_ids, theirs[:, 5].astype(np.int64))


def test_letterbox_and_scale_back_match_ultralytics(ultralytics, torch):
    from ultralytics.data.augment import LetterBox
    from ultralytics.utils.ops import scale_boxes

    rng = np.random.default_rng(0)
    shapes = [(720, 1280), (360, 640), (240, 320), (1080, 1920), (1, 3000), (517, 333), (5, 7)]
    shapes += [tuple(rng.integers(1, 1500, 2)) for _ in range(25)]
    for h, w in shapes:
        frame = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        for target in [(320, 320), (640, 640), (384, 640)]:
            for stride in (None, 32):
                ours = Letterbox.fit((h, w), target, stride)
                theirs = LetterBox(target, auto=stride is not None, stride=32)(image=frame)
                np.testing.assert_array_equal(ours.apply(frame), theirs)
                boxes = rng.uniform(-20, 700, (50, 4)).astype(np.float32)
                expected = scale_boxes(ours.input_hw, torch.from_numpy(boxes.copy()), (h, w))
                np.testing.assert_array_equal(ours.boxes_to_frame(boxes), expected.numpy())
