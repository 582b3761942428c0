"""Labelers: who draws the boxes on the frames a retraining learns from. All return YOLO lines.

- `oracle`: the synthetic camera's exact ground truth, the simulated annotator of the demo;
- `teacher`: pseudo-labels from the current model on enhanced frames with test-time
  augmentation (mirror images and zoomed tiles), keeping only confident, agreed boxes;
- `import`: a labelling tool's export (YOLO, COCO JSON or Pascal VOC; `label_import`);
- `review`: frames wait, with teacher pre-labels, for a person to correct them in the GUI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from tvdesk.core import atomic
from tvdesk.core.detector.detections import Detections, box_iou, match_boxes
from tvdesk.core.detector.onnx_detector import OnnxDetector
from tvdesk.core.session.capture import CapturedFrame
from tvdesk.core.synth.dataset import yolo_lines
from tvdesk.core.synth.render import GroundTruth
from tvdesk.retrain.dataset import LabelledImage
from tvdesk.retrain.enhance import enhance
from tvdesk.retrain.label_import import LabelImportError, read_labels

logger = logging.getLogger(__name__)

TEACHER_MIN_SCORE = 0.5  # mean score over both views a pseudo-label needs
TEACHER_MATCH_IOU = 0.5  # a box and its mirror-view twin must overlap this much
TEACHER_MERGE_IOU = 0.5  # boxes of different views overlapping more are one vehicle
TILE_SHARE = 0.5  # each zoomed tile spans this share of the frame's width and height
EDGE_MARGIN_PX = 2
REVIEW_DONE = "DONE"  # the review dialog writes this file when the person is finished


class LabelError(RuntimeError):
    """Frames cannot be labelled this way; the message says what to do instead."""


class ReviewPending(Exception):  # noqa: N818 - a state, not a failure
    """The frames are waiting for a person in the review dialog."""

    def __init__(self, folder: Path, frames: int) -> None:
        super().__init__(f"{frames} frames are waiting for review in {folder}")
        self.folder = folder


class Labeler(Protocol):
    name: str

    def label(self, frames: Sequence[CapturedFrame]) -> list[LabelledImage]: ...


class OracleLabeler:
    """The synthetic camera's ground truth (exact boxes; only synthetic frames have it)."""

    name = "oracle"

    def label(self, frames: Sequence[CapturedFrame]) -> list[LabelledImage]:
        labelled = []
        for frame in frames:
            if frame.truth is None:
                raise LabelError(
                    f"frame {frame.index} has no ground truth: the oracle only "
                    "labels the synthetic camera; choose the teacher or import"
                )
            truth = GroundTruth(*frame.truth)
            labelled.append(LabelledImage(frame.image, tuple(yolo_lines(truth, *frame.size))))
        return labelled


class TeacherLabeler:
    """Pseudo-labels: the model on the enhanced frame, whole and tiled, each view with its
    mirror image; only boxes a view and its mirror agree on, confidently, are kept."""

    name = "teacher"

    def __init__(self, detector: OnnxDetector, min_score: float = TEACHER_MIN_SCORE) -> None:
        self.detector = detector
        self.min_score = min_score

    def label(self, frames: Sequence[CapturedFrame]) -> list[LabelledImage]:
        return [LabelledImage(f.image, tuple(teacher_lines(self, f.image))) for f in frames]

    def boxes(self, image: np.ndarray) -> Detections:
        """Confident boxes of the enhanced frame, seen whole and as zoomed tiles (small far
        vehicles), each view checked against its mirror image; overlaps merged."""
        enhanced = enhance(image)
        height, width = enhanced.shape[:2]
        found = [
            self._view(enhanced, region, (width, height)) for region in view_regions(width, height)
        ]
        merged = Detections(
            np.concatenate([d.xyxy for d in found]).reshape(-1, 4),
            np.concatenate([d.scores for d in found]),
            np.concatenate([d.class_ids for d in found]),
            found[0].names,
        )
        return merged.select(nms_keep(merged, TEACHER_MERGE_IOU))

    def _view(
        self, image: np.ndarray, region: tuple[int, int, int, int], frame_size: tuple[int, int]
    ) -> Detections:
        """Boxes the crop and its mirror agree on, in frame pixels; boxes cut by a tile's inner
        edge are left to the views that see them whole."""
        x0, y0, x1, y1 = region
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        plain = self.detector.detect(crop)
        flipped = _unflip(self.detector.detect(cv2.flip(crop, 1)), x1 - x0)
        pairs = match_boxes(
            plain.xyxy, plain.class_ids, flipped.xyxy, flipped.class_ids, TEACHER_MATCH_IOU
        )
        i = np.array([a for a, _ in pairs], np.int64)
        j = np.array([b for _, b in pairs], np.int64)
        xyxy = ((plain.xyxy[i] + flipped.xyxy[j]) / 2).reshape(-1, 4) + np.array([x0, y0, x0, y0])
        scores = ((plain.scores[i] + flipped.scores[j]) / 2).astype(np.float32)
        keep = (scores >= self.min_score) & _whole(xyxy, region, frame_size)
        return Detections(
            xyxy[keep].astype(np.float32), scores[keep], plain.class_ids[i][keep], plain.names
        )


def teacher_lines(teacher: TeacherLabeler, image_path: Path) -> list[str]:
    """The teacher's boxes on the image at `image_path`, as YOLO label lines."""
    image = cv2.imread(str(image_path))
    if image is None:
        raise LabelError(f"cannot read {image_path}: the frame is missing or damaged")
    boxes = teacher.boxes(image)
    height, width = image.shape[:2]
    return yolo_lines(GroundTruth(boxes.xyxy, boxes.class_ids), width, height)


def view_regions(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The whole frame, a centre tile and four corner tiles, each TILE_SHARE of each side (a
    1/TILE_SHARE zoom at the model's input size)."""
    tile_w, tile_h = round(width * TILE_SHARE), round(height * TILE_SHARE)
    xs, ys = (
        (0, (width - tile_w) // 2, width - tile_w),
        (0, (height - tile_h) // 2, height - tile_h),
    )
    corners = [(x, y, x + tile_w, y + tile_h) for y in ys[::2] for x in xs[::2]]
    centre = (xs[1], ys[1], xs[1] + tile_w, ys[1] + tile_h)
    return [(0, 0, width, height), centre, *corners]


def nms_keep(detections: Detections, iou: float) -> np.ndarray:
    """Class-aware greedy NMS: a mask of the boxes kept, highest scores first."""
    keep = np.zeros(len(detections), bool)
    ious = box_iou(detections.xyxy, detections.xyxy)
    same = detections.class_ids[:, None] == detections.class_ids[None, :]
    for index in np.argsort(-detections.scores):
        if not (keep & same[index] & (ious[index] > iou)).any():
            keep[index] = True
    return keep


def _whole(
    xyxy: np.ndarray, region: tuple[int, int, int, int], frame_size: tuple[int, int]
) -> np.ndarray:
    """Boxes that touch no edge of the region that is not also an edge of the frame."""
    x0, y0, x1, y1 = region
    width, height = frame_size
    ok = np.ones(len(xyxy), bool)
    margin = EDGE_MARGIN_PX
    if x0 > 0:
        ok &= xyxy[:, 0] > x0 + margin
    if y0 > 0:
        ok &= xyxy[:, 1] > y0 + margin
    if x1 < width:
        ok &= xyxy[:, 2] < x1 - margin
    if y1 < height:
        ok &= xyxy[:, 3] < y1 - margin
    return ok


class ImportLabeler:
    """Labels from a labelling tool's export (YOLO, COCO or Pascal VOC; `label_import`),
    matched to the frames by file name (`00001234.jpg`, as tvdesk exports them) and mapped
    onto the model's class names. Frames the export has no labels for are left out."""

    name = "import"

    def __init__(
        self, export: Path, model_names: Sequence[str], frames_dir: Path | None = None
    ) -> None:
        try:
            self.imported = read_labels(export, model_names, frames_dir)
        except LabelImportError as exc:
            raise LabelError(str(exc)) from None

    def label(self, frames: Sequence[CapturedFrame]) -> list[LabelledImage]:
        lines = self.imported.lines
        labelled = [
            LabelledImage(frame.image, found)
            for frame in frames
            if (found := lines.get(f"{frame.index:08d}", lines.get(frame.image.stem))) is not None
        ]
        if not labelled:
            raise LabelError(
                f"none of the {len(lines)} labelled images is one of the {len(frames)} frames "
                "chosen for this retraining: label the frames tvdesk exported (named after "
                "their frame number, e.g. 00001234.jpg) and keep their names"
            )
        logger.info(
            "imported labels for %d of %d frames: %s",
            len(labelled),
            len(frames),
            self.imported.describe(),
        )
        return labelled


class ReviewLabeler:
    """Writes frames and pre-labels (the teacher's, or imported ones) to `folder` for the
    review dialog, then takes the corrected labels once the dialog has written DONE."""

    name = "review"

    def __init__(self, folder: Path, prelabels: Labeler) -> None:
        self.folder = folder
        self.prelabels = prelabels

    def label(self, frames: Sequence[CapturedFrame]) -> list[LabelledImage]:
        labels = self.folder / "labels"
        if (self.folder / REVIEW_DONE).exists():
            return [
                LabelledImage(frame.image, _label_lines(labels / f"{frame.index:08d}.txt"))
                for frame in frames
                if (labels / f"{frame.index:08d}.txt").exists()
            ]
        if not labels.is_dir():
            by_image = {item.image: item.lines for item in self.prelabels.label(frames)}
            for frame in frames:
                text = "".join(f"{line}\n" for line in by_image.get(frame.image, ()))
                atomic.write_text(labels / f"{frame.index:08d}.txt", text)
        raise ReviewPending(self.folder, len(frames))


def _label_lines(path: Path) -> tuple[str, ...]:
    return tuple(line for line in path.read_text().splitlines() if line.strip())


def _unflip(detections: Detections, width: int) -> Detections:
    xyxy = detections.xyxy.copy()
    xyxy[:, [0, 2]] = width - detections.xyxy[:, [2, 0]]
    return Detections(xyxy, detections.scores, detections.class_ids, detections.names)
