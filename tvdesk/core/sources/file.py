"""A video file: anything OpenCV decodes, read in order, seekable, looping or stopping at the end.

Containers often report more frames than they hold; the file ends where decoding ends, and the
shortfall is reported as a "short" event rather than an error.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from tvdesk.core.sources.base import (
    Frame,
    SourceError,
    SourceInfo,
    VideoSource,
    make_frame,
    read_timed,
)


class FileSource(VideoSource):
    """Frames of a video file; `loop` starts it again at the end instead of stopping."""

    def __init__(self, path: Path | str, *, loop: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.loop = loop
        self._cap = _open(self.path)
        self._fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or None
        reported = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._reported = reported if reported > 0 else None
        self._index = 0
        self.decoded: int | None = None  # frames the file really holds, once its end is reached
        self._pending = read_timed(self._cap)
        if self._pending is None:
            self._cap.release()
            raise SourceError(
                f"{self.path} opens but no frame decodes: the file is damaged "
                "or not a video; check it plays in a media player"
            )
        height, width = self._pending[0].shape[:2]
        self._size = (width, height)

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(
            "file",
            str(self.path),
            self._fps,
            self._size,
            self.decoded or self._reported,
            live=False,
            seekable=True,
        )

    def read(self) -> Frame | None:
        if self._interrupted.is_set():
            return None
        decoded = self._pending or read_timed(self._cap)
        self._pending = None
        if decoded is None:
            self._reached_end()
            if not self.loop or self._index == 0:
                return None
            self.seek(0)
            decoded = read_timed(self._cap)
            if decoded is None:
                return None
        image, ms = decoded
        frame = make_frame(image, self._index, self._time_of(self._index), ms)
        self._index += 1
        return frame

    def skip(self, count: int) -> bool:
        for _ in range(count):
            if self._pending is not None:
                self._pending = None
            elif not self._grab():
                return False
            self._index += 1
        return True

    def _grab(self) -> bool:
        """Pass one frame, starting again at the end when looping; False at the end."""
        if self._cap.grab():
            return True
        self._reached_end()
        if not self.loop or self._index == 0:
            return False
        self.seek(0)
        return self._cap.grab()

    def seek(self, index: int) -> None:
        last = (self.decoded or self._reported or 1) - 1
        index = min(max(0, int(index)), last)
        if not self._cap.set(cv2.CAP_PROP_POS_FRAMES, index):
            raise SourceError(f"{self.path} cannot seek (its container has no index)")
        self._pending = None
        self._index = index

    def close(self) -> None:
        self._cap.release()

    def _time_of(self, index: int) -> float:
        if self._fps:
            return index / self._fps
        return float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0

    def _reached_end(self) -> None:
        if self.decoded is not None:
            return
        self.decoded = self._index
        if self._reported and self._index < self._reported:
            self._emit(
                "short",
                f"{self.path.name} reports {self._reported} frames but only "
                f"{self._index} decode; playing the {self._index} that do",
            )


def _open(path: Path) -> cv2.VideoCapture:
    if not path.exists():
        raise SourceError(f"video file not found: {path}; check the path")
    if path.is_dir():
        raise SourceError(f"{path} is a folder; give a video file")
    try:
        path.open("rb").close()
    except PermissionError:
        raise SourceError(f"cannot read {path}: permission denied") from None
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SourceError(
            f"cannot open {path}: OpenCV does not recognise it as a video "
            "(damaged, incomplete, or another kind of file)"
        )
    return cap
