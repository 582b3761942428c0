"""Turn what a user types (a path, a webcam index, a URL, `synthetic[:scenario]`) into a source."""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from tvdesk.core.sources.base import VideoSource
from tvdesk.core.sources.file import FileSource
from tvdesk.core.sources.live import ReconnectPolicy, WebcamSource
from tvdesk.core.sources.stream import StreamSource, is_stream_url
from tvdesk.core.sources.synthetic import SyntheticSource

SYNTHETIC_PREFIX = "synthetic"


def open_source(
    spec: str,
    *,
    loop: bool = False,
    paced: bool = True,
    scenario: str = "day-night",
    synthetic_fps: float = 10.0,
    policy: ReconnectPolicy | None = None,
) -> VideoSource:
    """Open the source that `spec` names; raises SourceError with a sentence if it cannot.

    `loop` applies to files and the synthetic camera; `paced=False` renders the synthetic
    camera as fast as it can (every frame) instead of at its frame rate; `scenario` is the
    synthetic scenario when the spec does not name one.
    """
    spec = spec.strip()
    name, _, chosen = spec.partition(":")
    if name == SYNTHETIC_PREFIX:
        return SyntheticSource(chosen or scenario, fps=synthetic_fps, loop=loop, paced=paced)
    if spec.isdigit():
        return WebcamSource(int(spec), policy)
    if spec.startswith("file://"):
        return FileSource(Path(spec.removeprefix("file://")), loop=loop)
    if is_stream_url(spec):
        return StreamSource(spec, policy)
    return FileSource(Path(spec).expanduser(), loop=loop)


def silence_native_video_logs() -> None:
    """Keep OpenCV's and FFmpeg's own messages off stderr: our errors say what went wrong.

    Call it once at start-up, before the first capture opens (FFmpeg reads its level then).
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    cv2.setLogLevel(0)  # LOG_LEVEL_SILENT
