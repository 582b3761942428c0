"""Network streams (RTSP, HTTP(S) MJPEG or HLS, UDP, ...) through OpenCV's FFmpeg backend.

URLs often carry a password; `mask_url` is what gets shown, logged or stored, everywhere, and
`split_url` turns a malformed address (a bad port, an unclosed IPv6 bracket) into one sentence.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

import cv2

from tvdesk.core.sources.base import SourceError
from tvdesk.core.sources.live import ReconnectingSource, ReconnectPolicy

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "rtp", "srt")
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443, "http": 80, "https": 443}
TCP_SCHEMES = (*DEFAULT_PORTS, "tcp")  # a host that refuses a connection is unreachable
_SECRET_KEY = re.compile(r"pass|pwd|token|secret|key|auth|sig|cred", re.IGNORECASE)
MASK = "***"
_USERINFO_PASSWORD = re.compile(r"(//[^/@:]*:)[^/@]*@")


class UrlError(SourceError):
    """An address that cannot be parsed; the message names it (masked) and the fault."""


def split_url(url: str) -> SplitResult:
    """The parts of `url`, its port checked; UrlError with a sentence when it is malformed."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsed on access: a bad port raises here
    except ValueError as exc:
        fault = _url_fault(exc, _scheme(url) or "rtsp")
        raise UrlError(f"{mask_url(url)} is not a valid address: {fault}") from None
    return parts


def _url_fault(exc: ValueError, scheme: str) -> str:
    text = str(exc)
    if "Port" in text:
        return f"the port must be a number from 1 to 65535 (as in {scheme}://host:8554/...)"
    if "IPv6" in text:
        return f"an IPv6 host goes in brackets (as in {scheme}://[::1]:8554/...)"
    return f"{text}; check how it is written"


def is_stream_url(text: str) -> bool:
    return _scheme(text) in STREAM_SCHEMES


def _scheme(text: str) -> str:
    scheme, sep, _ = text.partition("://")
    return scheme.lower() if sep and scheme.replace("+", "").isalnum() else ""


def mask_url(url: str) -> str:
    """The URL with its password and secret-looking query values replaced by ***; a URL too
    malformed to parse has at least its password masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO_PASSWORD.sub(rf"\1{MASK}@", url, count=1)
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
        split_url(url)
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
