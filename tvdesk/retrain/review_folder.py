"""The folder a `review` labeler waits on: frames with teacher pre-labels for a person to correct.

`ReviewLabeler` writes `labels/<frame index>.txt` (YOLO lines) next to the captured frames'
folder and imports them once `DONE` exists. This is the editing side: read a frame's boxes in
pixels, write them back atomically, and mark the review finished. Qt-free, so the review
dialog is a thin view on it and a script can do the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tvdesk.core import atomic
from tvdesk.core.session.capture import FRAMES_FOLDER
from tvdesk.core.store.job import Job
from tvdesk.retrain.context import job_frames, job_workspace
from tvdesk.retrain.labelers import REVIEW_DONE

LABELS_FOLDER = "labels"


@dataclass(frozen=True)
class ReviewBox:
    """One box in frame pixels (x1, y1, x2, y2) and its class id."""

    class_id: int
    xyxy: tuple[float, float, float, float]


def job_review_folder(data_dir: Path, job: Job) -> Path:
    """Where the `review` labeler of `job` puts its frames (its work folder's `review`)."""
    return job_workspace(data_dir, job.id) / "review"


class ReviewFolder:
    """The frames of one review: their label files under `folder`, images under `capture_dir`."""

    def __init__(self, folder: Path, capture_dir: Path) -> None:
        self.folder = folder
        self.capture_dir = capture_dir

    @classmethod
    def of_job(cls, data_dir: Path, job: Job) -> ReviewFolder:
        return cls(job_review_folder(data_dir, job), job_frames(data_dir, job.id))

    @property
    def labels_dir(self) -> Path:
        return self.folder / LABELS_FOLDER

    @property
    def waiting(self) -> bool:
        """Frames are ready for a person and the review is not finished."""
        return self.labels_dir.is_dir() and not self.done

    @property
    def done(self) -> bool:
        return (self.folder / REVIEW_DONE).exists()

    def indices(self) -> list[int]:
        """The frames to review, in stream order."""
        return sorted(int(p.stem) for p in self.labels_dir.glob("*.txt") if p.stem.isdigit())

    def image_path(self, index: int) -> Path:
        return self.capture_dir / FRAMES_FOLDER / f"{index:08d}.jpg"

    def image_size(self, index: int) -> tuple[int, int]:
        """(width, height) of a frame, from its capture sidecar."""
        sidecar = self.capture_dir / FRAMES_FOLDER / f"{index:08d}.json"
        width, height = json.loads(sidecar.read_text())["size"]
        return int(width), int(height)

    def read(self, index: int) -> list[ReviewBox]:
        """The boxes of frame `index` in pixels (pre-labels, or what was saved since)."""
        width, height = self.image_size(index)
        path = self.labels_dir / f"{index:08d}.txt"
        boxes = []
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5:
                continue
            cls, cx, cy, w, h = int(parts[0]), *(float(v) for v in parts[1:])
            boxes.append(
                ReviewBox(
                    cls,
                    (
                        (cx - w / 2) * width,
                        (cy - h / 2) * height,
                        (cx + w / 2) * width,
                        (cy + h / 2) * height,
                    ),
                )
            )
        return boxes

    def write(self, index: int, boxes: list[ReviewBox]) -> None:
        """Replace frame `index`'s labels with `boxes` (pixels), clipped to the frame."""
        width, height = self.image_size(index)
        lines = [yolo_line(box, width, height) for box in boxes]
        text = "".join(f"{line}\n" for line in lines if line)
        atomic.write_text(self.labels_dir / f"{index:08d}.txt", text)

    def finish(self) -> None:
        """Mark the review done: the waiting job imports the labels on its next look."""
        atomic.write_text(self.folder / REVIEW_DONE, "")


def yolo_line(box: ReviewBox, width: int, height: int) -> str:
    """`class cx cy w h` normalised to the frame, or '' for a box with no area inside it."""
    x1, y1, x2, y2 = box.xyxy
    x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
    y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return ""
    cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    return f"{box.class_id} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
