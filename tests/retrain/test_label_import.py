"""Importing a labelling tool's export: YOLO, COCO JSON and Pascal VOC written by supervision's
own exporters, class names mapped onto the model's, classes the model lacks dropped and said,
and every export that cannot fit the frames refused with one sentence."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import supervision as sv

from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.capture import CapturedFrame
from tvdesk.retrain.label_import import LabelImportError, read_labels
from tvdesk.retrain.labelers import ImportLabeler, LabelError

MODEL = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
TOOL_CLASSES = ["truck", "car", "traffic light"]  # the tool's own order, one class unknown
BOXES = {  # per frame stem: (x1, y1, x2, y2, tool class)
    "00000010": [(10, 20, 50, 60, 1), (100, 40, 150, 90, 2)],
    "00000020": [(60, 10, 120, 70, 0)],
}


@pytest.fixture
def frames(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for stem in BOXES:
        cv2.imwrite(str(folder / f"{stem}.jpg"), np.full((120, 200, 3), 90, np.uint8))
    return folder


def _export(tmp_path, frames, kind: str):
    images = {str(frames / f"{s}.jpg"): cv2.imread(str(frames / f"{s}.jpg")) for s in BOXES}
    annotations = {
        str(frames / f"{stem}.jpg"): sv.Detections(
            xyxy=np.array([b[:4] for b in boxes], np.float32),
            class_id=np.array([b[4] for b in boxes]),
        )
        for stem, boxes in BOXES.items()
    }
    dataset = sv.DetectionDataset(TOOL_CLASSES, list(images), annotations)
    out = tmp_path / kind
    if kind == "yolo":
        dataset.as_yolo(
            annotations_directory_path=str(out / "labels"), data_yaml_path=str(out / "data.yaml")
        )
        return out
    if kind == "coco":
        dataset.as_coco(annotations_path=str(out / "annotations.json"))
        return out / "annotations.json"
    dataset.as_pascal_voc(annotations_directory_path=str(out / "Annotations"))
    return out


@pytest.mark.parametrize("kind", ["yolo", "coco", "voc"])
def test_each_format_gives_the_same_boxes_in_the_models_classes(tmp_path, frames, kind):
    imported = read_labels(_export(tmp_path, frames, kind), MODEL, frames)
    assert imported.format == kind
    first = imported.lines["00000010"]
    assert len(first) == 1 and first[0].startswith("2 0.15")  # car: the tool's 1, the model's 2
    cx, cy, w, h = (float(v) for v in first[0].split()[1:])
    assert (cx, cy, w, h) == pytest.approx((30 / 200, 40 / 120, 40 / 200, 40 / 120), abs=0.01)
    assert imported.lines["00000020"][0].startswith("5 ")  # truck
    assert imported.dropped == {"traffic light": 1}
    assert "dropped the classes the model does not know: traffic light 1" in imported.describe()


def test_an_import_labels_only_the_frames_it_has_labels_for(tmp_path, frames):
    export = _export(tmp_path, frames, "coco")
    chosen = [
        CapturedFrame(i, 0.0, frames / f"{i:08d}.jpg", Detections(), None, {}, (200, 120))
        for i in (10, 30)
    ]
    cv2.imwrite(str(frames / "00000030.jpg"), np.zeros((120, 200, 3), np.uint8))
    labelled = ImportLabeler(export, MODEL, frames).label(chosen)
    assert [item.image.stem for item in labelled] == ["00000010"]  # 30 has no labels: left out
    with pytest.raises(LabelError, match="none of the 2 labelled images is one of the 1 frames"):
        ImportLabeler(export, MODEL, frames).label(chosen[1:])


def test_exports_that_cannot_fit_are_one_sentence(tmp_path, frames):
    unknown = tmp_path / "csv"
    unknown.mkdir()
    (unknown / "labels.csv").write_text("x,y\n")
    with pytest.raises(LabelImportError, match="YOLO txt, COCO JSON or Pascal VOC"):
        read_labels(unknown, MODEL, frames)
    with pytest.raises(LabelImportError, match="none of the export's classes"):
        read_labels(_export(tmp_path, frames, "voc"), ["aeroplane", "boat"], frames)
    with pytest.raises(LabelImportError, match="does not exist"):
        read_labels(tmp_path / "nowhere", MODEL, frames)
