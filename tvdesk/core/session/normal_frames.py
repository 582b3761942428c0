"""A real camera's normal, as images: frames kept, evenly over its baseline, while it learns
what normal looks like. A retraining replays them (labelled like the drifted frames) against
forgetting and measures on them what the new model lost of the camera's normal view.

Frames go to `normal.partial/` while the baseline is recorded; when it is complete the folder
replaces `normal/` in one rename, so a camera always has a whole set or its previous one.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2

from tvdesk.core import atomic
from tvdesk.core.drift.status import LEARNING
from tvdesk.core.session.frame_loop import FrameResult

logger = logging.getLogger(__name__)

NORMAL_FOLDER = "normal"
NORMAL_FRAMES = 120  # kept per baseline: a replay set and a held-out check, not a dataset
JPEG_QUALITY = 92


class NormalFrames:
    """A frame consumer that keeps up to `frames` frames, evenly over `seconds` of stream time,
    while the drift monitor (observer `drift`) is learning."""

    def __init__(self, camera_folder: Path, seconds: float, frames: int = NORMAL_FRAMES) -> None:
        self.folder = camera_folder / NORMAL_FOLDER
        self.partial = camera_folder / f"{NORMAL_FOLDER}.partial"
        self.every_s = seconds / max(1, frames)
        self.frames = frames
        self._next: float | None = None
        self._kept = 0
        shutil.rmtree(self.partial, ignore_errors=True)  # a baseline cut short starts over

    def __call__(self, result: FrameResult) -> None:
        status = result.observations.get("drift")
        if getattr(status, "state", None) != LEARNING or self._kept >= self.frames:
            return
        stamp = result.frame.timestamp
        if self._next is not None and stamp < self._next:
            return
        self._next = stamp + self.every_s
        ok, encoded = cv2.imencode(
            ".jpg", result.frame.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        )
        if ok:
            self.partial.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(self.partial / f"{result.frame.index:08d}.jpg", encoded.tobytes())
            self._kept += 1

    def restart(self) -> None:
        """The camera learns its normal again: keep new frames from now on."""
        shutil.rmtree(self.partial, ignore_errors=True)
        self._next, self._kept = None, 0

    def commit(self) -> Path | None:
        """The baseline is complete: its frames become the camera's normal set."""
        if not self.partial.is_dir():
            return None
        old = self.folder.with_name(f"{NORMAL_FOLDER}.old")
        shutil.rmtree(old, ignore_errors=True)
        if self.folder.exists():
            self.folder.rename(old)
        self.partial.rename(self.folder)
        shutil.rmtree(old, ignore_errors=True)
        logger.info("kept %d normal frames of the camera in %s", self._kept, self.folder)
        return self.folder


def normal_images(camera_folder: Path) -> list[Path]:
    """The camera's normal frames, oldest first (empty before its first baseline)."""
    return sorted((camera_folder / NORMAL_FOLDER).glob("*.jpg"))
