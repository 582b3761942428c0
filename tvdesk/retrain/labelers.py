"""Labelers: who draws the boxes on the frames a retraining learns from. All return YOLO lines.

- `oracle`: the synthetic camera's exact ground truth, the simulated annotator of the demo;
- `teacher`: pseudo-labels from the camera's model run the expensive way (`teacher.py`: larger
  inputs, mirror images, dark frames lifted, views fused), confident boxes only;
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
from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.capture import CapturedFrame
from tvdesk.core.synth.dataset import yolo_lines
from tvdesk.core.synth.render import GroundTruth
from tvdesk.retrain.dataset import LabelledImage
from tvdesk.retrain.label_import import LabelImportError, read_labels
from tvdesk.retrain.teacher import EnsembleTeacher

logger = logging.getLogger(__name__)

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
    """Pseudo-labels from the teacher (`teacher.EnsembleTeacher`: the model run the expensive
    way): its confident boxes, and its unsure ones as hidden regions. A frame the teacher has
    doubts about (many uncertain boxes: its labels would miss vehicles, and training would
    learn them as road) is left out when those boxes are not hidden (`hide_score` above
    `doubt_score`), unless `keep_doubtful` (a person reviews them); `doubtful` lists what was
    left out."""

    name = "teacher"

    def __init__(self, teacher: EnsembleTeacher, keep_doubtful: bool = False) -> None:
        self.teacher = teacher
        self.keep_doubtful = keep_doubtful
        self.doubtful: list[tuple[int, tuple[str, ...]]] = []  # (frame index, reasons)

    def label(self, frames: Sequence[CapturedFrame]) -> list[LabelledImage]:
        settings = self.teacher.settings
        keep_doubtful = self.keep_doubtful or settings.hide_score <= settings.doubt_score
        labelled = []
        for frame in frames:
            image = _read(frame.image)
            labels = self.teacher.label(image)
            if labels.doubtful and not keep_doubtful:
                self.doubtful.append((frame.index, labels.doubts))
                continue
            labelled.append(
                LabelledImage(
                    frame.image, tuple(_lines(labels.boxes, image)), _regions(labels.unsure, image)
                )
            )
        if self.doubtful:
            logger.info("the teacher left out %d doubtful frames", len(self.doubtful))
        return labelled

    def boxes(self, image: np.ndarray) -> Detections:
        """The teacher's confident boxes on `image` (doubtful or not)."""
        return self.teacher.label(image).boxes


def teacher_lines(teacher: TeacherLabeler, image_path: Path) -> list[str]:
    """The teacher's confident boxes on the image at `image_path`, as YOLO label lines."""
    image = _read(image_path)
    return _lines(teacher.boxes(image), image)


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        raise LabelError(f"cannot read {path}: the frame is missing or damaged")
    return image


def _regions(
    boxes: Detections | None, image: np.ndarray
) -> tuple[tuple[float, float, float, float], ...]:
    """Boxes as regions (x1 y1 x2 y2) in fractions of the image, for `LabelledImage.hidden`."""
    if boxes is None or not len(boxes):
        return ()
    height, width = image.shape[:2]
    scaled = np.clip(boxes.xyxy / np.array([width, height, width, height]), 0.0, 1.0)
    return tuple(tuple(round(float(v), 5) for v in box) for box in scaled)


def _lines(boxes: Detections, image: np.ndarray) -> list[str]:
    height, width = image.shape[:2]
    return yolo_lines(GroundTruth(boxes.xyxy, boxes.class_ids), width, height)


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
