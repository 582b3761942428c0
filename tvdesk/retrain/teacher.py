"""The ensemble teacher: the traffic model run the expensive way, to label drifted frames.

A live student sees a frame once, small. The teacher sees it at larger input sizes, each also
mirrored, and a dark frame as an exposure-lifted copy; the boxes of all these views are merged
by weighted box fusion (the `ensemble-boxes` package). Confident fused
boxes become labels; a frame with many boxes in the uncertain score band is marked for a person
to review. `bench/teacher_accuracy.py` measures it against the student on real fog images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tvdesk.core.detector import Detections, OnnxDetector
from tvdesk.core.detector.detections import box_iou
from tvdesk.retrain.enhance import NIGHT_TARGET_LUMA, gamma, night_gamma

logger = logging.getLogger(__name__)

TRAFFIC_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
FUSION_SCORES = ("avg", "max", "box_and_model_avg", "absent_model_aware_avg")


@dataclass(frozen=True)
class TeacherSettings:
    """How the teacher looks at a frame and what it keeps. The defaults are the measured choice
    of `bench/teacher_accuracy.py` (186 real fog images, the traffic model)."""

    sizes: tuple[int, ...] = field(
        default=(640, 800),
        metadata={
            "help": "model input sizes (longest side, px) the frame is seen at; the model "
            "must have a dynamic input shape unless this is its own fixed size. Fog mAP50, "
            "mirrored: 0.356 at 640, 0.371 at 640 + 480, 0.379 at 640 + 800 (one pass at "
            "800 or 960 is worse than at 640)"
        },
    )
    mirror: bool = field(
        default=True,
        metadata={"help": "also see each size mirrored (fog: kept recall 0.318 -> 0.352)"},
    )
    lift_luma: float = field(
        default=NIGHT_TARGET_LUMA,
        metadata={
            "help": "frames darker than this mean luma are seen gamma-lifted to it "
            "(enhance.night_gamma) instead of as they are; 0 = never. Measured on the fog "
            "set darkened to luma 14: mAP50 0.13 unlifted, 0.21 lifted, 0.21 both"
        },
    )
    pass_conf: float = field(
        default=0.001, metadata={"help": "each view's score floor (Ultralytics' val setting)"}
    )
    fusion_iou: float = field(
        default=0.55, metadata={"help": "WBF iou_thr: boxes of one class overlapping more fuse"}
    )
    fusion_skip: float = field(
        default=0.001, metadata={"help": "WBF skip_box_thr: view boxes below this are ignored"}
    )
    fusion_score: str = field(
        default="max",
        metadata={
            "help": f"WBF conf_type, one of {', '.join(FUSION_SCORES)}; 'max' ranks best (a "
            "sweep on the fog set: mAP50 0.382, 'avg' 0.367, 'absent_model_aware_avg' 0.368)"
        },
    )
    keep_score: float = field(
        default=0.55,
        metadata={
            "help": "fused score a box needs to become a label; fog: kept precision 0.876, "
            "recall 0.352 (0.50: 0.857 and 0.383, too near the 0.85 wanted); with one name "
            "per vehicle (one_name_iou) 0.899 and 0.349"
        },
    )
    one_name_iou: float = field(
        default=0.7,
        metadata={
            "help": "a kept box overlapping a better kept box of another class by this IoU or "
            "more is the same vehicle named twice (fusion is per class, so a car seen as a "
            "truck in one view keeps both): only the better name becomes a label. Objects of "
            "two classes overlap by 0.56 at most in the fog set's ground truth; 1 = keep both"
        },
    )
    doubt_score: float = field(
        default=0.25,
        metadata={"help": "fused scores from this up to keep_score are uncertain"},
    )
    hide_score: float = field(
        default=0.10,
        metadata={
            "help": "fused boxes scored from this up to keep_score are hidden (painted grey) "
            "in the training image rather than left as road; 1 = never hide. Fog "
            "(bench/teacher_bands.py): the kept boxes cover 38 % of the true vehicles, boxes "
            "from 0.10 another 26 % (from 0.25: 16 %)"
        },
    )
    doubt_boxes: int = field(
        default=3,
        metadata={
            "help": "a frame with this many uncertain boxes or more is doubtful; fog: 52 of 186 "
            "frames, whose labels miss 9.3 objects each against 2.8 on the others"
        },
    )
    classes: tuple[str, ...] = field(
        default=TRAFFIC_CLASSES, metadata={"help": "class names labelled (others are ignored)"}
    )
    threads: int = field(default=1, metadata={"help": "ONNX Runtime threads per view"})

    def __post_init__(self) -> None:
        if not self.sizes or any(size < 32 for size in self.sizes):
            raise ValueError(
                f"sizes must be one or more input sizes of 32 px or more, got {self.sizes}"
            )
        if self.fusion_score not in FUSION_SCORES:
            raise ValueError(
                f"fusion_score must be one of {', '.join(FUSION_SCORES)}, got {self.fusion_score!r}"
            )
        for name in (
            "pass_conf",
            "fusion_iou",
            "fusion_skip",
            "keep_score",
            "one_name_iou",
            "doubt_score",
            "hide_score",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.doubt_score > self.keep_score:
            raise ValueError(
                f"doubt_score {self.doubt_score} must not exceed keep_score "
                f"{self.keep_score}: the uncertain band lies below the kept boxes"
            )
        if self.doubt_boxes < 1 or self.threads < 1:
            raise ValueError("doubt_boxes and threads must be 1 or more")


@dataclass(frozen=True)
class View:
    """One look at a frame: the model input size, mirrored or not, on the lifted copy or not."""

    size: int
    mirrored: bool = False
    lifted: bool = False

    def __str__(self) -> str:
        return (
            f"{self.size}{' mirrored' if self.mirrored else ''}{' lifted' if self.lifted else ''}"
        )


@dataclass(frozen=True)
class TeacherLabels:
    """What the teacher says about one frame: the boxes it is sure of, and whether a person
    should check the frame (and why)."""

    boxes: Detections  # the kept boxes, best first, in frame pixels
    doubts: tuple[str, ...] = ()  # why the frame needs review; empty when it does not
    views: tuple[View, ...] = ()  # the looks that were fused
    unsure: Detections | None = None  # boxes from hide_score up to keep_score: hide, not label

    @property
    def doubtful(self) -> bool:
        return bool(self.doubts)

    @property
    def lifted(self) -> bool:
        return any(view.lifted for view in self.views)


class EnsembleTeacher:
    """The traffic model at several input sizes, mirrored, and exposure-lifted on dark frames,
    its views merged by weighted box fusion. Costly (the defaults: about 20 student passes a
    frame): it runs in the training worker, never in the player."""

    def __init__(self, model: str | Path, settings: TeacherSettings | None = None) -> None:
        self.settings = settings or TeacherSettings()
        self.detectors = {size: self._open(Path(model), size) for size in self.settings.sizes}
        self.names = tuple(self.detectors[self.settings.sizes[0]].names)

    def views(self, image: np.ndarray) -> tuple[View, ...]:
        """The looks this BGR frame gets: every size, mirrored too; a dark frame is seen
        lifted instead of as it is (measured: as good as both, at half the cost)."""
        lifted = self._is_dark(image)
        mirrors = (False, True) if self.settings.mirror else (False,)
        return tuple(
            View(size, mirrored, lifted) for size in self.settings.sizes for mirrored in mirrors
        )

    def boxes(self, image: np.ndarray) -> Detections:
        """Every fused box with its fused score, best first (what mAP is measured on)."""
        return self._fused(image)[0]

    def label(self, image: np.ndarray) -> TeacherLabels:
        """The boxes scored `keep_score` or more, and the frame's doubts."""
        return self.judge(*self._fused(image))

    def judge(self, fused: Detections, views: tuple[View, ...] = ()) -> TeacherLabels:
        """Labels from a frame's fused boxes (`boxes`): the confident ones, and the doubts."""
        settings = self.settings
        kept = kept_boxes(fused, settings)
        band = (fused.scores >= settings.hide_score) & (fused.scores < settings.keep_score)
        if len(kept) and band.any():  # a second box (or class) on a labelled vehicle: not unsure
            band &= ~_on_a_kept_box(fused.xyxy, kept.xyxy, settings.fusion_iou)
        unsure = fused.select(band)
        labels = TeacherLabels(kept, doubts_about(fused, settings), views, unsure)
        logger.debug("%d fused boxes, %d kept, doubts %s", len(fused), len(kept), labels.doubts)
        return labels

    def _fused(self, image: np.ndarray) -> tuple[Detections, tuple[View, ...]]:
        views = self.views(image)
        if any(view.lifted for view in views):
            image = lift(image, self.settings.lift_luma)
        found = [self._look(image, view) for view in views]
        return fuse(found, image.shape[:2], self.settings), views

    def _look(self, image: np.ndarray, view: View) -> Detections:
        detector = self.detectors[view.size]
        if not view.mirrored:
            return detector.detect(image)
        return mirror(detector.detect(cv2.flip(image, 1)), image.shape[1])

    def _is_dark(self, image: np.ndarray) -> bool:
        return mean_luma(image) < self.settings.lift_luma

    def _open(self, model: Path, size: int) -> OnnxDetector:
        settings = self.settings
        # The views alternate between sessions: a pool left spinning after its run would take a
        # core from the next session's (measured at 2 threads: the teacher twice as slow).
        detector = OnnxDetector(
            model, conf=settings.pass_conf, imgsz=size, threads=settings.threads, spin=False
        )
        wanted = [i for i, name in enumerate(detector.names) if name in settings.classes]
        if not wanted:
            raise ValueError(
                f"{model} has none of the classes {', '.join(settings.classes)}; give the "
                f"traffic model or set TeacherSettings.classes to names it has"
            )
        detector.set_thresholds(classes=wanted)
        return detector


def fuse(
    found: list[Detections], frame_hw: tuple[int, int], settings: TeacherSettings
) -> Detections:
    """Weighted box fusion of several views' boxes of one frame, best first, in frame pixels.

    ensemble-boxes (and the numba it loads) is imported here, in the training worker that
    labels, never on the player's path."""
    from ensemble_boxes import weighted_boxes_fusion

    height, width = frame_hw
    scale = np.array([width, height, width, height], np.float32)
    views = [normalised(d, scale) for d in found]
    boxes, scores, labels = weighted_boxes_fusion(
        [d.xyxy for d in views],
        [d.scores for d in views],
        [d.class_ids for d in views],
        iou_thr=settings.fusion_iou,
        skip_box_thr=settings.fusion_skip,
        conf_type=settings.fusion_score,
    )
    order = np.argsort(-scores, kind="stable")
    return Detections(
        (boxes[order] * scale).astype(np.float32).reshape(-1, 4),
        scores[order].astype(np.float32),
        labels[order].astype(np.int64),
        found[0].names if found else (),
    )


def normalised(detections: Detections, scale: np.ndarray) -> Detections:
    """Boxes as fractions of the frame, as WBF wants them, without those of no area (a box
    squashed flat against the frame's edge), which WBF would skip with a warning."""
    xyxy = np.clip(detections.xyxy / scale, 0.0, 1.0)
    solid = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    return Detections(xyxy[solid], detections.scores[solid], detections.class_ids[solid])


def kept_boxes(fused: Detections, settings: TeacherSettings) -> Detections:
    """The fused boxes (best first) that become labels: scored `keep_score` or more, one name
    per vehicle (a box that names a better box's object as another class is dropped)."""
    kept = fused.select(fused.scores >= settings.keep_score)
    if len(kept) < 2 or settings.one_name_iou >= 1.0:
        return kept
    renames = np.triu(box_iou(kept.xyxy, kept.xyxy) >= settings.one_name_iou, 1)
    renames &= kept.class_ids[:, None] != kept.class_ids[None, :]
    dropped = np.zeros(len(kept), bool)
    for better in range(len(kept)):
        if not dropped[better]:
            dropped |= renames[better]
    return kept.select(~dropped)


def _on_a_kept_box(boxes: np.ndarray, kept: np.ndarray, iou: float) -> np.ndarray:
    """Which of `boxes` overlap one of the `kept` boxes by `iou` or more."""
    return (box_iou(boxes, kept) >= iou).any(axis=1)


def doubts_about(fused: Detections, settings: TeacherSettings) -> tuple[str, ...]:
    """Why a person should check this frame's labels: many boxes the teacher is unsure of."""
    band = (fused.scores >= settings.doubt_score) & (fused.scores < settings.keep_score)
    uncertain = int(band.sum())
    if uncertain < settings.doubt_boxes:
        return ()
    kept = int((fused.scores >= settings.keep_score).sum())
    return (
        f"{uncertain} boxes scored {settings.doubt_score:.2f}-{settings.keep_score:.2f} "
        f"(not labelled) beside {kept} kept: check for objects the labels miss",
    )


def mirror(detections: Detections, width: int) -> Detections:
    """Boxes found on a mirrored frame, put back on the frame itself."""
    xyxy = detections.xyxy.copy()
    xyxy[:, [0, 2]] = width - detections.xyxy[:, [2, 0]]
    return Detections(xyxy, detections.scores, detections.class_ids, detections.names)


def lift(image: np.ndarray, target_luma: float = NIGHT_TARGET_LUMA) -> np.ndarray:
    """A copy of a dark BGR frame gamma-lifted to `target_luma` (enhance.night_gamma)."""
    return gamma(image, night_gamma(image, target_luma))


def mean_luma(image: np.ndarray) -> float:
    return float(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).mean())
