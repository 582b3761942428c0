"""Video sources: files, image folders, webcams, network streams, snapshot cameras and the
synthetic camera behind one interface.

`open_source("clip.mp4" | "frames/" | "0" | "rtsp://..." | "https://cam/snap.jpg" |
"synthetic:day-night")` gives a `VideoSource` whose `read()` returns `Frame`s; live ones are
read through `LatestFrameCapture`. `open.py` says how a spec is told apart.
"""

from tvdesk.core.sources.base import (
    Frame,
    SourceError,
    SourceEvent,
    SourceInfo,
    VideoSource,
    make_frame,
)
from tvdesk.core.sources.file import FileSource
from tvdesk.core.sources.image_folder import ImageFolderSource
from tvdesk.core.sources.latest import LatestFrameCapture
from tvdesk.core.sources.live import ReconnectingSource, ReconnectPolicy, WebcamSource
from tvdesk.core.sources.open import open_source, silence_native_video_logs
from tvdesk.core.sources.playlist import PlaylistSource
from tvdesk.core.sources.snapshot import SnapshotSource, is_snapshot_url
from tvdesk.core.sources.stream import StreamSource, mask_url
from tvdesk.core.sources.synthetic import SyntheticSource

__all__ = [
    "FileSource",
    "Frame",
    "ImageFolderSource",
    "LatestFrameCapture",
    "PlaylistSource",
    "ReconnectPolicy",
    "ReconnectingSource",
    "SnapshotSource",
    "SourceError",
    "SourceEvent",
    "SourceInfo",
    "StreamSource",
    "SyntheticSource",
    "VideoSource",
    "WebcamSource",
    "is_snapshot_url",
    "make_frame",
    "mask_url",
    "open_source",
    "silence_native_video_logs",
]
