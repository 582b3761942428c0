"""Active learning: which captured frames are worth a label, within a labelling budget.

A frame is worth more when the model is unsure about it (many low- and mid-confidence boxes)
and when it changes its mind on an enhanced copy of the frame (boxes that appear, vanish or
move). Near-duplicates are skipped: consecutive video frames teach almost the same thing.
Frames are compared after normalising their contrast, so a dark frame's moving headlights
count as much as a bright frame's moving cars, and a change of light alone (night falling)
does not make a frame new.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from tvdesk.core.detector.detections import Detections, match_boxes
from tvdesk.core.detector.onnx_detector import OnnxDetector
from tvdesk.core.session.capture import CapturedFrame
from tvdesk.retrain.enhance import enhance

logger = logging.getLogger(__name__)

UNSURE_RANGE = (0.25, 0.6)  # scores in here count as low/mid confidence
MATCH_IOU = 0.5
MAX_CANDIDATES_PER_LABEL = 3  # frames scored per frame of budget (evenly spaced)
THUMB_SIZE = (32, 18)
# Mean absolute difference of two contrast-normalised thumbnails (in units of each frame's
# own grey spread) below which the later frame is a duplicate. Measured on the demo's 10 fps
# stream: consecutive frames differ by 0.018 by day and 0.035 at night, frames five apart by
# 0.047 and 0.117.
NEAR_DUPLICATE = 0.05
DUPLICATE_REACH = 5  # compare with selected frames this many indices away or fewer


@dataclass(frozen=True)
class ScoredFrame:
    frame: CapturedFrame
    uncertainty: float  # share of the model's boxes that are low/mid confidence
    disagreement: float  # 1 - F1 of boxes on the frame vs on its enhanced copy

    @property
    def score(self) -> float:
        return self.uncertainty + self.disagreement


def select_frames(
    frames: Sequence[CapturedFrame], detector: OnnxDetector, budget: int, progress=None
) -> list[ScoredFrame]:
    """Up to `budget` frames, most informative first, without near-duplicates."""
    step = max(1, len(frames) // (budget * MAX_CANDIDATES_PER_LABEL))
    candidates = list(frames[::step])
    scored = []
    for number, frame in enumerate(candidates, 1):
        scored.append(score_frame(frame, detector))
        if progress:
            progress(number, len(candidates))
    chosen = _diverse(sorted(scored, key=lambda s: -s.score), budget)
    logger.info("selected %d of %d frames (%d scored)", len(chosen), len(frames), len(scored))
    return chosen


def score_frame(frame: CapturedFrame, detector: OnnxDetector) -> ScoredFrame:
    image = cv2.imread(str(frame.image))
    plain = detector.detect(image)
    enhanced = detector.detect(enhance(image))
    return ScoredFrame(frame, uncertainty(plain), 1.0 - agreement(plain, enhanced))


def uncertainty(detections: Detections) -> float:
    if len(detections) == 0:
        return 0.0
    low, high = UNSURE_RANGE
    unsure = (detections.scores >= low) & (detections.scores < high)
    return float(unsure.mean())


def agreement(a: Detections, b: Detections) -> float:
    """F1 of greedy same-class matches at IoU >= 0.5; 1.0 when both found nothing."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    matched = len(match_boxes(a.xyxy, a.class_ids, b.xyxy, b.class_ids, MATCH_IOU))
    return 2.0 * matched / (len(a) + len(b))


def _diverse(ranked: list[ScoredFrame], budget: int) -> list[ScoredFrame]:
    chosen: list[ScoredFrame] = []
    thumbs: dict[int, np.ndarray] = {}
    for item in ranked:
        if len(chosen) == budget:
            break
        thumb = _thumbnail(item.frame)
        near = [t for i, t in thumbs.items() if abs(i - item.frame.index) <= DUPLICATE_REACH]
        if any(float(np.abs(thumb - t).mean()) < NEAR_DUPLICATE for t in near):
            continue
        chosen.append(item)
        thumbs[item.frame.index] = thumb
    return chosen


def _thumbnail(frame: CapturedFrame) -> np.ndarray:
    """The frame small and grey, with zero mean and unit spread."""
    grey = cv2.imread(str(frame.image), cv2.IMREAD_GRAYSCALE)
    thumb = cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    return (thumb - thumb.mean()) / max(float(thumb.std()), 1.0)
