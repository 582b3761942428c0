"""Annotated video for headless runs: each result's boxes, labels (with track ids), counting
lines and zones with their totals, and the loop's fps drawn in; boxes predicted from tracks
between two detections are drawn dashed, with "predicted" in the status line.

The file appears only complete and readable: frames go to a hidden file beside the target,
which replaces the target only once OpenCV reads it back whole (`PendingVideo`), so neither a
killed run nor a full disk ever leaves a broken video under the chosen name, or destroys an
earlier one. The disk's free space is checked at the start and once a second.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np

from tvdesk.core.free_space import DiskSpaceError, SpaceGuard
from tvdesk.core.session.counting import COUNTS, CountingSnapshot
from tvdesk.core.session.frame_loop import FrameResult
from tvdesk.core.session.video_file import PendingVideo, VideoWriteError

CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
BOX_THICKNESS = 2
DASH = 6  # px of a predicted box's dashes, and of the gaps between them
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.5
TEXT_COLOUR = (255, 255, 255)
BACKGROUND = (0, 0, 0)
LINE_COLOUR = (111, 190, 255)  # BGR of the GUI's line colour
ZONE_COLOUR = (234, 160, 98)


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per class."""
    hue = (int(class_id) * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_result(result: FrameResult, counting: CountingSnapshot | None = None) -> np.ndarray:
    """A copy of the frame with every box, its label, score and track id, the counting lines
    and zones with their totals (the result's own, else `counting`: the last detected
    frame's), and the loop's fps."""
    image = result.frame.image.copy()
    detections = result.detections
    own = result.observations.get(COUNTS)
    counting = own if isinstance(own, CountingSnapshot) else counting
    if counting is not None:
        _draw_counting(image, counting)
    tracked = counting is not None and result.detected
    ids = counting.detection_ids(len(detections)) if tracked else [None] * len(detections)
    for box, label, score, class_id, track_id in zip(
        detections.xyxy,
        detections.labels(),
        detections.scores,
        detections.class_ids,
        ids,
        strict=True,
    ):
        x1, y1, x2, y2 = np.rint(box).astype(int).tolist()
        colour = class_colour(class_id)
        if result.detected:
            cv2.rectangle(image, (x1, y1), (x2, y2), colour, BOX_THICKNESS)
        else:
            _dashed_rectangle(image, (x1, y1), (x2, y2), colour)
        tag = f"{label} {score:.2f}" + (f" #{track_id}" if track_id is not None else "")
        _label(image, tag, (x1, y1), colour)
    status = f"{result.stats.fps:.1f} fps  frame {result.frame.index}  model {result.model_version}"
    if not result.detected:
        status += f"  predicted (detecting 1 in {result.stats.detect_every})"
    _label(image, status, (0, 0), BACKGROUND, below=True)
    return image


def _dashed_rectangle(
    image: np.ndarray, corner: tuple[int, int], opposite: tuple[int, int], colour: tuple
) -> None:
    """A rectangle outlined in `DASH` px dashes (OpenCV draws no dashed lines)."""
    (x1, y1), (x2, y2) = corner, opposite
    corners = np.array([(x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1)], np.float64)
    for a, b in itertools.pairwise(corners):
        length = max(float(np.abs(b - a).max()), 1.0)
        for start in np.arange(0.0, length, 2 * DASH):
            p = np.rint(a + (b - a) * start / length).astype(int)
            q = np.rint(a + (b - a) * min(start + DASH, length) / length).astype(int)
            cv2.line(image, tuple(p.tolist()), tuple(q.tolist()), colour, BOX_THICKNESS)


def _draw_counting(image: np.ndarray, counting: CountingSnapshot) -> None:
    """Each line with an arrow to its "in" side and its in/out totals; each zone with the
    tracks in it."""
    for shape in counting.shapes:
        points = np.rint(np.array(shape.points)).astype(np.int32)
        if shape.kind == "zone":
            cv2.polylines(image, [points], True, ZONE_COLOUR, 2, cv2.LINE_AA)
            text = f"{shape.name}: {counting.occupancy(shape.name)} inside"
            _label(image, text, tuple(points.min(axis=0).tolist()), ZONE_COLOUR, below=True)
            continue
        (x1, y1), (x2, y2) = shape.points
        cv2.line(image, tuple(points[0]), tuple(points[1]), LINE_COLOUR, 2, cv2.LINE_AA)
        middle = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        normal = np.array([y1 - y2, x2 - x1]) / max(np.hypot(x2 - x1, y2 - y1), 1e-9)
        tip = tuple(np.rint(middle + 20 * normal).astype(int).tolist())
        cv2.arrowedLine(image, tuple(np.rint(middle).astype(int).tolist()), tip, LINE_COLOUR, 2)
        totals = counting.directions(shape.name)
        text = f"{shape.name} in {totals.get('in', 0)} out {totals.get('out', 0)}"
        _label(image, text, tuple(points[0].tolist()), LINE_COLOUR, below=True)


def _label(
    image: np.ndarray,
    text: str,
    corner: tuple[int, int],
    colour: tuple[int, int, int],
    below: bool = False,
) -> None:
    (width, height), baseline = cv2.getTextSize(text, FONT, FONT_SCALE, 1)
    x, y = corner
    top = y if below else max(0, y - height - baseline - 2)
    cv2.rectangle(image, (x, top), (x + width + 4, top + height + baseline + 2), colour, -1)
    cv2.putText(
        image, text, (x + 2, top + height + 1), FONT, FONT_SCALE, TEXT_COLOUR, 1, cv2.LINE_AA
    )


class AnnotatedVideoWriter:
    """A frame consumer writing annotated frames to `target` (.mp4, .avi, .mkv, ...).

    It stops the run (a `DiskSpaceError` from the consumer call) when the disk falls below
    `min_free_mb`; `finish` puts the file in place only if it reads back whole.
    """

    def __init__(
        self, target: Path, fps: float, size: tuple[int, int], min_free_mb: float = 0.0
    ) -> None:
        suffix = target.suffix.lower()
        if suffix not in CODECS:
            raise ValueError(f"cannot write {target.name}: use one of {', '.join(CODECS)}")
        if not target.parent.is_dir():
            raise FileNotFoundError(
                f"folder {target.parent} does not exist: create it or "
                "choose another place for the annotated video"
            )
        self.target = target
        self.size = size
        self.frames = 0
        self._counting: CountingSnapshot | None = None  # of the last detected frame
        self._pending = PendingVideo(target)
        self._space = SpaceGuard(target.parent, min_free_mb, "the annotated video")
        try:
            self._space.require()
        except DiskSpaceError:
            self._pending.discard()
            raise
        fourcc = cv2.VideoWriter_fourcc(*CODECS[suffix])
        self._writer = cv2.VideoWriter(str(self._pending.path), fourcc, fps, size)
        if not self._writer.isOpened():
            self._pending.discard()
            raise VideoWriteError(
                0, f"cannot write a video to {target}: check the folder is writable"
            )

    def __call__(self, result: FrameResult) -> None:
        try:
            self._space.check()
        except DiskSpaceError as exc:
            raise DiskSpaceError(
                f"stopped writing the annotated video: {exc}; {self._pending.kept()}"
            ) from None
        counting = result.observations.get(COUNTS)
        if isinstance(counting, CountingSnapshot):
            self._counting = counting
        image = draw_result(result, self._counting)
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def finish(self, keep: bool = True) -> None:
        """Close the file; put it in place if `keep` and it reads back whole (else raise
        VideoWriteError saying what was kept); without `keep`, delete it."""
        self._writer.release()
        if keep and self.frames:
            self._pending.commit(self.frames)
        else:
            self._pending.discard()
