"""The ensemble teacher on real fog images with real models: the COCO int8 model at its fixed
320 input (always there with the real data) and the traffic model (dynamic input) when built."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from tvdesk.config import project_root
from tvdesk.core.detector import Detections, DetectorError, OnnxDetector
from tvdesk.core.detector.detections import box_iou
from tvdesk.retrain.teacher import (
    TRAFFIC_CLASSES,
    EnsembleTeacher,
    TeacherSettings,
    fuse,
    kept_boxes,
    mirror,
)
from tvdesk.training.accuracy import VAL_CONF, VAL_IOU, LabelledFolder, measure

TRAFFIC_MODEL = project_root() / "resources" / "models" / "tvdesk-traffic.onnx"
NIGHT_LIGHT = 0.006  # linear light scale of the night copies: fog mean luma 146 -> 14
AT_320 = TeacherSettings(sizes=(320,))


@pytest.fixture(scope="module")
def int8_model(realdata) -> Path:
    return realdata / "models" / "yolov8n_int8_320.onnx"


@pytest.fixture(scope="module")
def fog(realdata) -> LabelledFolder:
    """Every 9th of the 186 labelled fog images (21, foggy and mist alike)."""
    data = LabelledFolder.from_yaml(realdata / "labelled" / "dawn_fog" / "data.yaml")
    return data.subset(data.images[::9])


@pytest.fixture(scope="module")
def teacher(int8_model) -> EnsembleTeacher:
    return EnsembleTeacher(int8_model, AT_320)


def student(model: Path) -> OnnxDetector:
    detector = OnnxDetector(model, conf=VAL_CONF, iou=VAL_IOU, imgsz=320)
    detector.set_thresholds(
        classes=[i for i, name in enumerate(detector.names) if name in TRAFFIC_CLASSES]
    )
    return detector


def night(image: np.ndarray) -> np.ndarray:
    levels = np.arange(256) / 255.0
    table = ((levels**2.2) * NIGHT_LIGHT) ** (1 / 2.2) * 255.0 + 0.5
    return cv2.LUT(image, np.clip(table, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def fused_fog(teacher, fog) -> list[Detections]:
    """The int8 teacher's fused boxes of each image of the fog subset."""
    return [teacher.boxes(cv2.imread(str(path))) for path in fog.images]


def test_fusion_merges_a_box_and_its_mirrored_twin_into_one(int8_model, fog, fused_fog):
    detector = student(int8_model)
    sharpest = int(np.argmax([f.scores[0] if len(f) else 0.0 for f in fused_fog]))
    image = cv2.imread(str(fog.images[sharpest]))
    plain = detector.detect(image)
    twins = mirror(detector.detect(cv2.flip(image, 1)), image.shape[1])
    best = plain.select(np.arange(len(plain)) == 0)
    same_class = twins.class_ids == best.class_ids[0]
    twin = twins.select(same_class & (box_iou(twins.xyxy, best.xyxy)[:, 0] > 0.5))
    twin = twin.select(np.arange(len(twin)) == 0)
    assert best.scores[0] > 0.5 and len(twin) == 1, "a confident box and its mirrored twin"

    fused = fuse([best, twin], image.shape[:2], AT_320)

    assert len(fused) == 1 and fused.class_ids[0] == best.class_ids[0]
    low = np.minimum(best.xyxy[0], twin.xyxy[0]) - 1e-3
    high = np.maximum(best.xyxy[0], twin.xyxy[0]) + 1e-3
    assert np.all((low <= fused.xyxy[0]) & (fused.xyxy[0] <= high))
    assert fused.scores[0] == pytest.approx(max(best.scores[0], twin.scores[0]))  # "max"
    assert len(fuse([plain, twins], image.shape[:2], AT_320)) < len(plain) + len(twins)


def test_the_teacher_beats_the_student_at_320_even_at_the_students_size(int8_model, fog):
    """Mirror and fusion alone, on a model whose input is fixed at 320."""
    pupil = student(int8_model)
    taught = EnsembleTeacher(int8_model, AT_320)

    student_map = measure(pupil.detect, pupil.names, fog, classes=TRAFFIC_CLASSES).map50
    teacher_map = measure(taught.boxes, taught.names, fog, classes=TRAFFIC_CLASSES).map50

    assert teacher_map > student_map + 0.05, (teacher_map, student_map)


def test_the_traffic_teacher_beats_the_student_at_320(fog):
    """The defaults; on all 186 images (bench/teacher_accuracy.py) the gain is 0.12 or more."""
    if not TRAFFIC_MODEL.is_file():
        pytest.skip(f"the traffic model is not built yet ({TRAFFIC_MODEL})")
    pupil = student(TRAFFIC_MODEL)
    taught = EnsembleTeacher(TRAFFIC_MODEL, TeacherSettings(threads=2))

    student_map = measure(pupil.detect, pupil.names, fog, classes=TRAFFIC_CLASSES).map50
    teacher_map = measure(taught.boxes, taught.names, fog, classes=TRAFFIC_CLASSES).map50

    assert teacher_map > student_map + 0.08, (teacher_map, student_map)  # measured: +0.11


def test_a_dark_frame_is_also_seen_lifted_and_the_lift_finds_more(int8_model, fog):
    lifting = EnsembleTeacher(int8_model, TeacherSettings(sizes=(320,), mirror=False))
    plain = EnsembleTeacher(int8_model, TeacherSettings(sizes=(320,), mirror=False, lift_luma=0))
    image = cv2.imread(str(fog.images[0]))
    assert not lifting.label(image).lifted
    assert lifting.label(night(image)).lifted
    assert [str(v) for v in lifting.views(night(image))] == ["320 lifted"]

    def kept(teacher: EnsembleTeacher):
        return lambda frame: teacher.label(night(frame)).boxes

    subset = fog.subset(fog.images[:12])
    with_lift = measure(kept(lifting), lifting.names, subset, classes=TRAFFIC_CLASSES)
    without = measure(kept(plain), plain.names, subset, classes=TRAFFIC_CLASSES)
    assert with_lift.recall > without.recall, (with_lift.recall, without.recall)


def test_kept_boxes_are_the_fused_boxes_scored_keep_score_or_more(teacher, fog, fused_fog):
    busiest = int(np.argmax([len(f) for f in fused_fog]))
    image = cv2.imread(str(fog.images[busiest]))
    fused = teacher.boxes(image)
    labels = teacher.label(image)

    confident = fused.select(fused.scores >= teacher.settings.keep_score)
    assert 0 < len(labels.boxes) < len(fused)
    assert np.all(np.diff(fused.scores) <= 0), "fused boxes come best first"
    pairs = zip(labels.boxes.xyxy.tolist(), labels.boxes.class_ids, strict=True)
    kept = {(tuple(box), class_id) for box, class_id in pairs}
    for box, class_id in zip(confident.xyxy, confident.class_ids, strict=True):
        if (tuple(box.tolist()), class_id) in kept:
            continue  # every confident box is kept unless it names a kept box's vehicle again
        overlap = box_iou(box[None], labels.boxes.xyxy)[0]
        renamed = (overlap >= teacher.settings.one_name_iou) & (labels.boxes.class_ids != class_id)
        assert renamed.any()


def boxes(*rows: tuple[float, float, float, float, float, int]) -> Detections:
    """Fused boxes, best first, from (x1, y1, x2, y2, score, class id) rows."""
    array = np.array(rows, np.float32).reshape(-1, 6)
    return Detections(array[:, :4], array[:, 4], array[:, 5].astype(np.int64), TRAFFIC_CLASSES)


def test_a_vehicle_named_twice_is_labelled_once_with_its_better_name():
    car, truck, bus = (TRAFFIC_CLASSES.index(n) for n in ("car", "truck", "bus"))
    person, motorcycle = TRAFFIC_CLASSES.index("person"), TRAFFIC_CLASSES.index("motorcycle")
    fused = boxes(
        (100, 100, 200, 180, 0.90, car),
        (101, 99, 201, 181, 0.70, truck),  # the same vehicle, IoU 0.96: dropped
        (102, 101, 199, 179, 0.60, bus),  # and again: dropped
        (400, 100, 440, 200, 0.85, person),
        (395, 130, 445, 210, 0.80, motorcycle),  # its rider's machine, IoU 0.46: kept
        (300, 100, 360, 150, 0.80, car),
        (302, 100, 362, 150, 0.75, car),  # the same class overlapping: fusion's business, kept
        (600, 100, 700, 180, 0.40, truck),  # under keep_score
    )
    kept = kept_boxes(fused, TeacherSettings())
    assert [TRAFFIC_CLASSES[c] for c in kept.class_ids] == [
        "car",
        "person",
        "motorcycle",
        "car",
        "car",
    ]
    assert len(kept_boxes(fused, TeacherSettings(one_name_iou=1.0))) == 7


def test_a_frame_with_many_uncertain_boxes_is_doubtful_and_a_blank_one_is_not(
    teacher, int8_model, fused_fog
):
    fused = fused_fog
    settings = teacher.settings
    band = [
        int(((f.scores >= settings.doubt_score) & (f.scores < settings.keep_score)).sum())
        for f in fused
    ]
    busiest = int(np.argmax(band))
    assert band[busiest] >= settings.doubt_boxes

    labels = teacher.judge(fused[busiest])
    assert labels.doubtful and labels.doubts[0].startswith(f"{band[busiest]} boxes scored")
    stricter = EnsembleTeacher(int8_model, replace(AT_320, doubt_boxes=band[busiest] + 1))
    assert not stricter.judge(fused[busiest]).doubtful
    blank = teacher.label(np.full((360, 640, 3), 128, np.uint8))
    assert not blank.doubtful and len(blank.boxes) == 0


def test_settings_and_models_it_cannot_use_say_what_to_do(int8_model):
    with pytest.raises(ValueError, match="one of avg, max"):
        TeacherSettings(fusion_score="mean")
    with pytest.raises(ValueError, match="must not exceed keep_score"):
        TeacherSettings(doubt_score=0.6, keep_score=0.5)
    with pytest.raises(DetectorError, match="dynamic=True"):
        EnsembleTeacher(int8_model, TeacherSettings(sizes=(640,)))
    with pytest.raises(ValueError, match="none of the classes"):
        EnsembleTeacher(int8_model, TeacherSettings(sizes=(320,), classes=("tram",)))
