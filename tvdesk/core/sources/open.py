"""Turn what a user types (a path, a folder, a webcam index, a URL, `synthetic[:scenario]`) into
a source.

The rules, in order:

- `synthetic` or `synthetic:SCENARIO`: the synthetic camera.
- digits (`0`, `1`): a webcam by index.
- `snapshot+http(s)://...`, or an `http(s)://` URL whose path ends in .jpg, .jpeg, .png or
  .bmp: a snapshot camera polled every `interval` seconds (the `snapshot+` prefix forces it for
  addresses like `/cgi-bin/snapshot.cgi`).
- any other URL of a stream scheme (rtsp, http(s), udp, ...): a video stream.
- a folder (a path, or `file://` with a path): its images at `fps` images per second.
- anything else: a video file (`file://` may prefix the path).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from tvdesk.core.sources.base import SourceError, VideoSource
from tvdesk.core.sources.file import FileSource
from tvdesk.core.sources.image_folder import DEFAULT_FOLDER_FPS, ImageFolderSource
from tvdesk.core.sources.live import ReconnectPolicy, WebcamSource
from tvdesk.core.sources.snapshot import (
    DEFAULT_INTERVAL_S,
    SNAPSHOT_PREFIX,
    SnapshotSource,
    is_snapshot_url,
)
from tvdesk.core.sources.stream import StreamSource, is_stream_url, mask_url, split_url
from tvdesk.core.sources.synthetic import SyntheticSource

SYNTHETIC_PREFIX = "synthetic"


def open_source(
    spec: str,
    *,
    loop: bool = False,
    paced: bool = True,
    scenario: str = "day-night",
    synthetic_fps: float = 10.0,
    fps: float = DEFAULT_FOLDER_FPS,
    interval: float = DEFAULT_INTERVAL_S,
    policy: ReconnectPolicy | None = None,
) -> VideoSource:
    """Open the source that `spec` names; raises SourceError with a sentence if it cannot.

    `loop` applies to files, image folders and the synthetic camera; `paced=False` renders the
    synthetic camera as fast as it can (every frame) instead of at its frame rate; `scenario`
    is the synthetic scenario when the spec does not name one. `fps` is the rate an image
    folder plays at (images per second); `interval` the seconds between polls of a snapshot
    camera. `policy` sets the timeouts and retries of webcams, streams and snapshot cameras.
    """
    spec = spec.strip()
    name, _, chosen = spec.partition(":")
    if name == SYNTHETIC_PREFIX:
        return SyntheticSource(chosen or scenario, fps=synthetic_fps, loop=loop, paced=paced)
    if spec.isdigit():
        return WebcamSource(int(spec), policy)
    if spec.startswith("file://"):
        return _open_path(Path(spec.removeprefix("file://")), loop, fps)
    if "://" in spec:
        split_url(spec)  # a malformed address is one sentence, not a traceback
    if is_snapshot_url(spec):
        return SnapshotSource(spec, interval, policy)
    if spec.lower().startswith(SNAPSHOT_PREFIX):
        raise SourceError(
            f"{mask_url(spec)}: a snapshot camera needs an http:// or https:// address "
            "(snapshot+http://...)"
        )
    if is_stream_url(spec):
        return StreamSource(spec, policy)
    return _open_path(Path(spec).expanduser(), loop, fps)


def _open_path(path: Path, loop: bool, fps: float) -> VideoSource:
    """A folder of images, or a video file."""
    if path.is_dir():
        return ImageFolderSource(path, fps=fps, loop=loop)
    return FileSource(path, loop=loop)


def silence_native_video_logs() -> None:
    """Keep OpenCV's and FFmpeg's own messages off stderr: our errors say what went wrong.

    Call it once at start-up, before the first capture opens (FFmpeg reads its level then).
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    cv2.setLogLevel(0)  # LOG_LEVEL_SILENT
