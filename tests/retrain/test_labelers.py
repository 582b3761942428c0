"""Active-learning selection and the labelers on real models and real frames: the COCO int8
model on the synthetic night and on the real night dashcam clip."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from tvdesk.config import resources_dir
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.detections import Detections, box_iou
from tvdesk.core.session.capture import CapturedFrame
from tvdesk.core.synth import RoadCamera, SceneRenderer, preset
from tvdesk.core.synth.vehicles import sample_traffic
from tvdesk.retrain.labelers import (
    REVIEW_DONE,
    ImportLabeler,
    LabelError,
    OracleLabeler,
    ReviewLabeler,
    ReviewPending,
    TeacherLabeler,
)
from tvdesk.retrain.selection import agreement, select_frames
from tvdesk.retrain.teacher import EnsembleTeacher, TeacherSettings


@pytest.fixture(scope="module")
def coco(realdata) -> OnnxDetector:
    return OnnxDetector(realdata / "models" / "yolov8n_int8_320.onnx", threads=1)


def _frames(folder, condition, count, size=(320, 180)):
    renderer = SceneRenderer(RoadCamera().resized(*size))
    frames = []
    for index in range(count):
        rng = np.random.default_rng(index)
        rendered = renderer.render(
            sample_traffic(rng, renderer.camera, 0.9), preset(condition), rng
        )
        path = folder / f"{index:08d}.jpg"
        cv2.imwrite(str(path), rendered.image)
        frames.append(
            CapturedFrame(
                index * 10,
                float(index),
                path,
                Detections(),
                (rendered.truth.boxes, rendered.truth.class_ids),
                {},
                size,
            )
        )
    return frames


def test_selection_keeps_the_budget_and_skips_duplicates(coco, tmp_path):
    frames = _frames(tmp_path, "night", 6)
    duplicate = CapturedFrame(
        frames[0].index + 1, 0.1, frames[0].image, Detections(), frames[0].truth, {}, frames[0].size
    )
    chosen = select_frames([*frames, duplicate], coco, budget=4)
    assert len(chosen) == 4
    indices = [s.frame.index for s in chosen]
    assert not {frames[0].index, duplicate.index} <= set(indices)
    assert [s.score for s in chosen] == sorted((s.score for s in chosen), reverse=True)


def test_agreement_of_a_detection_set_with_itself_is_one():
    boxes = Detections(
        np.array([[0, 0, 10, 10], [20, 20, 40, 40]], np.float32),
        np.array([0.9, 0.4], np.float32),
        np.array([0, 1]),
        ("a", "b"),
    )
    assert agreement(boxes, boxes) == 1.0
    assert agreement(boxes, boxes.select(np.array([True, False]))) == pytest.approx(2 / 3)


def test_teacher_boxes_on_clear_frames_are_real_vehicles(realdata, tmp_path):
    fixed_320 = realdata / "models" / "yolov8n_int8_320.onnx"  # its input size is fixed
    teacher = TeacherLabeler(EnsembleTeacher(fixed_320, TeacherSettings(sizes=(320,))))
    hits = []
    for frame in _frames(tmp_path, "day", 3, size=(640, 360)):
        boxes = teacher.boxes(cv2.imread(str(frame.image)))
        if len(boxes):
            hits.extend(box_iou(boxes.xyxy, frame.truth[0]).max(axis=1) >= 0.5)
    assert len(hits) >= 2
    assert np.mean(hits) >= 0.8  # pseudo-labels sit on real vehicles


def test_the_teacher_leaves_out_the_frames_it_doubts(tmp_path):
    """With a doubt threshold of one uncertain box, frames with any are left out and listed;
    a reviewing teacher keeps them, and so does one that hides the boxes it is unsure of."""
    model = resources_dir() / "models" / "tvdesk-base.onnx"
    settings = TeacherSettings(sizes=(640,), mirror=False, doubt_boxes=1, doubt_score=0.01)
    frames = _frames(tmp_path, "night", 3, size=(640, 360))
    strict = TeacherLabeler(EnsembleTeacher(model, settings))
    kept = strict.label(frames)
    assert len(kept) + len(strict.doubtful) == 3 and strict.doubtful
    assert all(why for _, why in strict.doubtful)
    reviewing = TeacherLabeler(EnsembleTeacher(model, settings), keep_doubtful=True)
    assert len(reviewing.label(frames)) == 3 and not reviewing.doubtful
    hiding = TeacherLabeler(EnsembleTeacher(model, replace(settings, hide_score=0.01)))
    kept = hiding.label(frames)  # the boxes that made them doubtful are hidden: kept
    assert len(kept) == 3 and not hiding.doubtful and any(item.hidden for item in kept)


def test_the_teachers_unsure_boxes_are_hidden_not_labelled(tmp_path):
    """Boxes from hide_score up to keep_score become hidden regions of the frame, none of
    them a label; with hide_score at 1 nothing is hidden."""
    model = resources_dir() / "models" / "tvdesk-base.onnx"
    frames = _frames(tmp_path, "night", 3, size=(640, 360))
    settings = TeacherSettings(sizes=(640,), mirror=False, doubt_boxes=99, hide_score=0.01)
    teacher = EnsembleTeacher(model, settings)
    labelled = TeacherLabeler(teacher).label(frames)
    assert sum(len(item.hidden) for item in labelled) > 0
    for item, frame in zip(labelled, frames, strict=True):
        fused = teacher.boxes(cv2.imread(str(frame.image)))
        kept = fused.scores >= settings.keep_score
        band = (fused.scores >= 0.01) & ~kept
        on_label = (box_iou(fused.xyxy, fused.xyxy[kept]) >= settings.fusion_iou).any(axis=1)
        assert len(item.lines) == int(kept.sum())
        assert len(item.hidden) == int((band & ~on_label).sum())  # a label's second box: shown
        assert all(0.0 <= v <= 1.0 for region in item.hidden for v in region)
    never = EnsembleTeacher(model, replace(settings, hide_score=1.0))
    assert not any(item.hidden for item in TeacherLabeler(never).label(frames))


def test_oracle_refuses_frames_without_truth(tmp_path):
    frame = CapturedFrame(1, 0.0, tmp_path / "x.jpg", Detections(), None, {}, (10, 10))
    with pytest.raises(LabelError, match="only labels the synthetic camera"):
        OracleLabeler().label([frame])


def test_import_and_review_labelers(coco, tmp_path):
    frames = _frames(tmp_path, "day", 2)
    folder = tmp_path / "yolo"  # a tool's YOLO export of the frames, without the images
    folder.mkdir()
    (folder / "classes.txt").write_text("car\nbus\n")
    (folder / f"{frames[1].image.stem}.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    names = ["car", "truck", "bus", "motorcycle"]
    [imported] = ImportLabeler(folder, names, frames[0].image.parent).label(frames)
    assert imported.image == frames[1].image and imported.lines == (
        "2 0.500000 0.500000 0.200000 0.200000",
    )  # bus: the export's class 1, the model's 2

    teacher = EnsembleTeacher(coco.path, TeacherSettings(sizes=(320,), mirror=False))
    review = ReviewLabeler(tmp_path / "review", TeacherLabeler(teacher, keep_doubtful=True))
    with pytest.raises(ReviewPending):
        review.label(frames[:1])
    pending = sorted(p.name for p in (tmp_path / "review" / "labels").iterdir())
    assert pending == [f"{frames[0].index:08d}.txt"]  # pre-labels for the person
    (tmp_path / "review" / REVIEW_DONE).write_text("")
    assert [item.image for item in review.label(frames[:1])] == [frames[0].image]
