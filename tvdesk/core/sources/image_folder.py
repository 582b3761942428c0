"""A folder of still images played like a video: one frame per image, in natural name order.

Public traffic-camera archives are often folders of JPEGs. The folder is listed once when the
source opens (files added later are not seen); images whose names start with "." are ignored.
Images of one folder may differ in size: `info.size` is the first readable image's, and every
frame carries its own shape (the detector, the drift features and the capture ring work per
frame; the annotated-video writer scales each frame to the size it was opened with).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import cv2
import numpy as np

from tvdesk.core.sources.base import Frame, SourceError, SourceInfo, VideoSource, make_frame

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DEFAULT_FOLDER_FPS = 1.0  # images per second when the caller does not say
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that puts "img2.jpg" before "img10.jpg": digit runs compare as numbers, the
    rest ignoring case; the exact name breaks ties."""
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
        for part in _DIGITS.split(name)
    )
    return parts, name


def list_images(folder: Path) -> list[Path]:
    """The images directly inside `folder` (jpg, jpeg, png, bmp; any case) in natural order."""
    images = [
        path
        for path in folder.iterdir()
        if path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.startswith(".")
        and path.is_file()
    ]
    return sorted(images, key=lambda path: natural_key(path.name))


def decode_image(data: bytes | np.ndarray) -> np.ndarray | None:
    """An image file's bytes (JPEG, PNG, BMP...) as 8-bit BGR, or None if they are not one."""
    buffer = np.frombuffer(data, np.uint8)
    return cv2.imdecode(buffer, cv2.IMREAD_COLOR) if buffer.size else None


def read_image(path: Path) -> np.ndarray | None:
    """The image file as 8-bit BGR, or None if it cannot be read or decoded."""
    try:
        data = np.fromfile(path, np.uint8)  # unlike cv2.imread, any path on every platform
    except OSError:
        return None
    return decode_image(data)


class ImageFolderSource(VideoSource):
    """The images of a folder as frames at `fps`; seekable, looping on request.

    Frame `index` is the image's position in the folder listing and its timestamp
    `index / fps`. An unreadable image is skipped with one "skipped" event (and log line) and
    counted in `skipped`; its index is a gap. The frame loop paces the source like a video
    file (real-time at `fps`, or every frame).
    """

    def __init__(
        self, folder: Path | str, *, fps: float = DEFAULT_FOLDER_FPS, loop: bool = False
    ) -> None:
        super().__init__()
        if fps <= 0:
            raise SourceError(f"the image rate must be more than 0 images per second, got {fps:g}")
        self.folder = Path(folder)
        self.fps = float(fps)
        self.loop = loop
        self.paths = _listed(self.folder)
        self.skipped = 0
        self._unreadable: set[int] = set()
        self._position = 0
        first = self._first_readable()
        self._pending: tuple[int, np.ndarray, float] | None = first
        height, width = first[1].shape[:2]
        self._size = (width, height)

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(
            "images",
            str(self.folder),
            self.fps,
            self._size,
            len(self.paths),
            live=False,
            seekable=True,
        )

    def read(self) -> Frame | None:
        if self._interrupted.is_set():
            return None
        decoded = self._pending or self._next_readable()
        self._pending = None
        if decoded is None:
            return None
        index, image, ms = decoded
        return make_frame(image, index, index / self.fps, ms)

    def skip(self, count: int) -> bool:
        """Pass over `count` images without decoding them; False if the folder ended first."""
        if self._pending is not None and count > 0:
            self._pending, count = None, count - 1
        position = self._position + count
        if self.loop:
            self._position = position % len(self.paths)
            return True
        self._position = min(position, len(self.paths))
        return position <= len(self.paths)

    def seek(self, index: int) -> None:
        self._pending = None
        self._position = min(max(0, int(index)), len(self.paths) - 1)

    def close(self) -> None:
        """Nothing to release: each image is read and closed in one call."""

    def _first_readable(self) -> tuple[int, np.ndarray, float]:
        found = self._next_readable(wrap=False)
        if found is None:
            raise SourceError(
                f"none of the {len(self.paths)} images in {self.folder} can be read: they are "
                "damaged or not images; check that they open in an image viewer"
            )
        return found

    def _next_readable(self, wrap: bool = True) -> tuple[int, np.ndarray, float] | None:
        """The next image that decodes, from the current position, and the ms it took."""
        for _ in range(len(self.paths)):
            if self._position >= len(self.paths):
                if not (wrap and self.loop) or len(self._unreadable) == len(self.paths):
                    return None
                self._position = 0
            index = self._position
            self._position += 1
            if index in self._unreadable:
                continue
            start = time.perf_counter()
            image = read_image(self.paths[index])
            if image is not None:
                return index, image, (time.perf_counter() - start) * 1000.0
            self._mark_unreadable(index)
        return None

    def _mark_unreadable(self, index: int) -> None:
        self._unreadable.add(index)
        self.skipped += 1
        self._emit(
            "skipped",
            f"skipped {self.paths[index].name} in {self.folder}: it cannot be read as an image "
            "(damaged, or not really an image)",
        )


def _listed(folder: Path) -> list[Path]:
    """The folder's images; raises SourceError with what to do when there are none."""
    if not folder.exists():
        raise SourceError(f"image folder not found: {folder}; check the path")
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder; give a folder of images")
    try:
        paths = list_images(folder)
    except PermissionError:
        raise SourceError(f"cannot list {folder}: permission denied") from None
    if not paths:
        raise SourceError(
            f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}): "
            "choose a folder with camera snapshots in it"
        )
    return paths
