"""A video file that replaces its target only when it is whole: written beside the target under
a hidden name, reopened and counted when done, then renamed over the target.

OpenCV's writer reports no write errors: on a full disk it goes on "writing" and leaves a file
no player opens. So nothing is trusted until OpenCV reads it back with about as many frames as
were written; until then an earlier file of the same name stays as it was.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import cv2

logger = logging.getLogger(__name__)

FILE_MODE = 0o666  # before the umask, like any file the user makes
FRAME_TOLERANCE = 0.01  # share of the written frames a container may count differently


class VideoWriteError(OSError):
    """The video could not be written whole; the message says what was kept and what to do."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class PendingVideo:
    """The hidden file a video is written to, beside `target`, and its verified hand-over."""

    def __init__(self, target: Path) -> None:
        if target.is_dir():
            raise VideoWriteError(
                0, f"{target} is a folder: give --out a file name, e.g. {target / 'cam.mp4'}"
            )
        self.target = target
        self.path = target.with_name(f".{target.stem}.{secrets.token_hex(4)}{target.suffix}")
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except OSError as exc:
            raise VideoWriteError(
                exc.errno or 0,
                f"cannot write a video to {target.parent} ({exc.strerror or exc}): "
                "choose a folder you can write to",
            ) from None

    def kept(self) -> str:
        """What the user still has at the target, in words."""
        if self.target.exists():
            return f"the earlier {self.target} was kept as it was"
        return f"no video was written at {self.target}"

    def commit(self, frames_written: int) -> None:
        """Rename the finished file over the target if OpenCV reads it back whole; else
        delete it and raise VideoWriteError saying what was kept."""
        found = readable_frames(self.path)
        if abs(found - frames_written) > max(1, frames_written * FRAME_TOLERANCE):
            self.discard()
            raise VideoWriteError(
                0,
                f"the annotated video came out unreadable ({found} of {frames_written} frames "
                f"can be read back; is the disk full?): {self.kept()}. Free some space and "
                "run again",
            )
        try:
            os.replace(self.path, self.target)
        except OSError as exc:
            self.discard()
            raise VideoWriteError(
                exc.errno or 0,
                f"cannot put the annotated video at {self.target} ({exc.strerror}): {self.kept()}",
            ) from None

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def readable_frames(path: Path) -> int:
    """The frames OpenCV reads back from the video at `path`: its container's count when the
    first and the last of them decode (the quick check), else the frames decoded in order."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened() or not capture.read()[0]:
            return 0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if count > 0 and capture.set(cv2.CAP_PROP_POS_FRAMES, count - 1) and capture.read()[0]:
            return count
    finally:
        capture.release()
    return _decoded_frames(path)


def _decoded_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    frames = 0
    try:
        while capture.read()[0]:
            frames += 1
    finally:
        capture.release()
    return frames
