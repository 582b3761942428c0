"""Network streams (RTSP, HTTP(S) MJPEG or HLS, UDP, ...) through OpenCV's FFmpeg backend.

URLs often carry a password; `mask_url` is what gets shown, logged or stored, everywhere.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import cv2

from tvdesk.core.sources.live import ReconnectingSource, ReconnectPolicy

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "rtp", "srt")
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443, "http": 80, "https": 443}
TCP_SCHEMES = (*DEFAULT_PORTS, "tcp")  # a host that refuses a connection is unreachable
_SECRET_KEY = re.compile(r"pass|pwd|token|secret|key|auth|sig|cred", re.IGNORECASE)
MASK = "***"


def is_stream_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in STREAM_SCHEMES


def mask_url(url: str) -> str:
    """The URL with its password and secret-looking query values replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if has_password else f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SECRET_KEY.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class StreamSource(ReconnectingSource):
    """A network stream that reconnects with backoff when it drops or stalls."""

    kind = "stream"

    def __init__(self, url: str, policy: ReconnectPolicy | None = None) -> None:
        self._url = url
        self._masked = mask_url(url)
        super().__init__(policy or ReconnectPolicy())

    @property
    def name(self) -> str:
        return self._masked

    def _open(self) -> cv2.VideoCapture | None:
        cap = cv2.VideoCapture(self._url, cv2.CAP_FFMPEG, self.policy.capture_params())
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _unreachable_message(self) -> str:
        parts = urlsplit(self._url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        if parts.scheme.lower() not in TCP_SCHEMES or not parts.hostname or port is None:
            return (
                f"no video arrived from {self._masked} within "
                f"{self.policy.open_timeout_s:g} s: check the address and that the sender "
                "is streaming"
            )
        try:
            with socket.create_connection((parts.hostname, port), self.policy.open_timeout_s):
                pass
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            return (
                f"cannot reach {parts.hostname}:{port} for {self._masked} ({reason}): "
                "check the address, the network and that the camera is on"
            )
        return (
            f"{parts.hostname}:{port} answers but {self._masked} is not a video stream "
            "OpenCV can read: check the path, the credentials and the stream format"
        )
