"""Snapshot cameras: an http(s) URL that answers with one still image, polled at an interval.

Many public traffic cameras publish a JPEG every few seconds instead of a video. The source
polls the URL every `interval` seconds and makes a frame only when the image changed (a new
ETag, or new bytes). It is live and reconnects like a stream (`ReconnectingSource`): an HTTP
error, a timeout or an answer that is not an image is a "disconnected" event that says why,
then retries with backoff. A user name and password in the URL are sent as HTTP basic auth and
never shown: every name, event and error goes through `mask_url`.

Which URLs are snapshots (`is_snapshot_url`): `snapshot+http(s)://...` always (the prefix is
dropped before the request), and plain `http(s)://` URLs whose path ends in an image suffix
(.jpg, .jpeg, .png, .bmp). Every other http(s) URL is a video stream.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit, urlunsplit

import cv2
import numpy as np

from tvdesk.core.sources.base import Frame, SourceError
from tvdesk.core.sources.image_folder import decode_image
from tvdesk.core.sources.live import ReconnectingSource, ReconnectPolicy
from tvdesk.core.sources.stream import mask_url, split_url

SNAPSHOT_PREFIX = "snapshot+"
SNAPSHOT_SCHEMES = ("http", "https")
SNAPSHOT_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DEFAULT_INTERVAL_S = 2.0  # seconds between polls when the caller does not say
MAX_IMAGE_BYTES = 32 * 1024 * 1024  # a larger answer is not a camera snapshot
USER_AGENT = "tvdesk-snapshot"


def is_snapshot_url(text: str) -> bool:
    """True for `snapshot+http(s)://...`, and for http(s) URLs whose path ends in .jpg etc."""
    try:
        parts = urlsplit(text)
    except ValueError:  # malformed: `split_url` says how
        return False
    scheme = parts.scheme.lower()
    if scheme.startswith(SNAPSHOT_PREFIX):
        return scheme.removeprefix(SNAPSHOT_PREFIX) in SNAPSHOT_SCHEMES
    return scheme in SNAPSHOT_SCHEMES and parts.path.lower().endswith(SNAPSHOT_SUFFIXES)


class SnapshotError(Exception):
    """One poll failed; the message says why (and what to do), with no credentials in it."""


@dataclass(frozen=True)
class Snapshot:
    """One answer of the camera: the image file's bytes and its ETag, if the server sent one."""

    body: bytes
    etag: str | None
    content_type: str


class SnapshotClient:
    """Requests a snapshot URL: basic auth from its userinfo, conditional on the last ETag."""

    def __init__(self, url: str) -> None:
        parts = split_url(url)
        scheme = parts.scheme.lower().removeprefix(SNAPSHOT_PREFIX)
        self.host = parts.netloc.rpartition("@")[2]  # host[:port], without user:password
        self.url = urlunsplit((scheme, self.host, parts.path, parts.query, ""))
        self.has_credentials = parts.username is not None
        self._authorization = _basic_auth(parts.username, parts.password)

    def fetch(self, timeout: float, etag: str | None) -> Snapshot | None:
        """The current image, or None if it is unchanged since `etag`; raises SnapshotError."""
        request = urllib.request.Request(self.url, headers={"User-Agent": USER_AGENT})
        request.add_header("Cache-Control", "no-cache")
        if etag:
            request.add_header("If-None-Match", etag)
        if self._authorization:  # unredirected: never sent on to another host
            request.add_unredirected_header("Authorization", self._authorization)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                body = answer.read(MAX_IMAGE_BYTES + 1)
                headers = answer.headers
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 304:
                return None
            raise SnapshotError(self._http_error(exc.code, str(exc.reason))) from None
        except (http.client.HTTPException, OSError) as exc:  # URLError and timeouts too
            raise SnapshotError(self._network_error(exc, timeout)) from None
        if len(body) > MAX_IMAGE_BYTES:
            raise SnapshotError(f"the answer is larger than {MAX_IMAGE_BYTES >> 20} MB")
        return Snapshot(body, headers.get("ETag"), headers.get("Content-Type", "no content type"))

    def _http_error(self, code: int, reason: str) -> str:
        status = f"{code} {reason}".strip()
        if code == 401 and self.has_credentials:
            return f"{status}: the camera refused the user name and password; check them"
        if code == 401:
            return (
                f"{status}: the camera needs a user name and password; put them in the "
                "address as http://USER:PASSWORD@host/..."
            )
        if code == 403:
            return f"{status}: the camera denies access to this address; check the credentials"
        if code == 404:
            return f"{status}: nothing at this address; check the path"
        if code >= 500:
            return f"{status}: the camera's server failed; it may come back by itself"
        return f"the camera answered {status}"

    def _network_error(self, exc: BaseException, timeout: float) -> str:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            return f"no answer from {self.host} within {timeout:g} s"
        if isinstance(exc, http.client.InvalidURL):
            return f"the address is not valid ({exc}); check the host and port"
        if isinstance(exc, http.client.HTTPException):
            return f"the connection to {self.host} broke off ({type(exc).__name__})"
        detail = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
        return f"cannot reach {self.host} ({detail}); check the address and the network"


def _basic_auth(user: str | None, password: str | None) -> str | None:
    if user is None:
        return None
    pair = f"{unquote(user)}:{unquote(password or '')}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def decode_snapshot(snapshot: Snapshot) -> np.ndarray:
    """The snapshot as an 8-bit BGR image; raises SnapshotError if it is not an image."""
    image = decode_image(snapshot.body)
    if image is None:
        raise SnapshotError(
            f"the answer is not an image ({snapshot.content_type}, {len(snapshot.body)} "
            "bytes); check that the address gives a JPEG or PNG snapshot, not a web page"
        )
    return image


class SnapshotPoller:
    """Reads a snapshot URL the way a reconnecting source reads a capture: `read()` waits for
    the next poll and returns (True, image) when the image changed, (False, None) when a poll
    failed (`failure` says why) or `stop()` was called. Unchanged images are not returned."""

    def __init__(self, client: SnapshotClient, interval: float, policy: ReconnectPolicy) -> None:
        self.client = client
        self.interval = interval
        self.policy = policy
        self.failure: str | None = None
        self.fetch_ms = 0.0
        self._stopping = threading.Event()
        self._next_poll = 0.0
        self._etag: str | None = None
        self._digest: bytes | None = None
        self._held: np.ndarray | None = None  # a new image found by `probe`, not yet read

    def probe(self) -> bool:
        """Poll now with the open timeout; True if the camera gave an image (new or not)."""
        try:
            self._held = self._poll(self.policy.open_timeout_s)
        except SnapshotError as exc:
            self.failure = str(exc)
            return False
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self._held is not None:
            image, self._held = self._held, None
            return True, image
        while not self._stopping.wait(max(0.0, self._next_poll - time.monotonic())):
            try:
                image = self._poll(self.policy.read_timeout_s)
            except SnapshotError as exc:
                self.failure = str(exc)
                return False, None
            if image is not None:
                return True, image
        return False, None

    def get(self, prop_id: int) -> float:
        """Like VideoCapture.get: the poll rate as the frame rate, 0 for anything else."""
        return 1.0 / self.interval if prop_id == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        """Nothing to release: every poll opens and closes its own connection."""

    def stop(self) -> None:
        """Make a waiting `read` return (False, None) soon; safe from any thread."""
        self._stopping.set()

    def _poll(self, timeout: float) -> np.ndarray | None:
        """One request: the image if it changed since the last one, else None."""
        self._next_poll = time.monotonic() + self.interval
        started = time.perf_counter()
        snapshot = self.client.fetch(timeout, self._etag)
        if snapshot is None:
            return None
        digest = hashlib.blake2b(snapshot.body, digest_size=16).digest()
        if digest == self._digest or (snapshot.etag and snapshot.etag == self._etag):
            self._etag = snapshot.etag
            return None
        image = decode_snapshot(snapshot)  # a body that is not an image changes nothing
        self._etag, self._digest = snapshot.etag, digest
        self.fetch_ms = (time.perf_counter() - started) * 1000.0
        return image


class SnapshotSource(ReconnectingSource):
    """A camera that publishes a still image at an http(s) URL, polled every `interval` s.

    Live: frames are stamped with the time since the source opened, `info.fps` is the poll
    rate (1 / interval), and a frame's `capture_ms` is the time its request and decoding took.
    """

    kind = "snapshot"

    def __init__(
        self,
        url: str,
        interval: float = DEFAULT_INTERVAL_S,
        policy: ReconnectPolicy | None = None,
    ) -> None:
        if interval <= 0:
            raise SourceError(f"the snapshot interval must be more than 0 s, got {interval:g}")
        self._masked = mask_url(url)
        self.interval = interval
        policy = policy or ReconnectPolicy()
        self._poller = SnapshotPoller(SnapshotClient(url), interval, policy)
        super().__init__(policy)

    @property
    def name(self) -> str:
        return self._masked

    def read(self) -> Frame | None:
        frame = super().read()
        return None if frame is None else replace(frame, capture_ms=self._poller.fetch_ms)

    def interrupt(self) -> None:
        super().interrupt()
        self._poller.stop()

    def _open(self) -> SnapshotPoller | None:
        return self._poller if self._poller.probe() else None

    def _unreachable_message(self) -> str:
        return f"no snapshot from {self._masked}: {self._poller.failure}"

    def _failure(self) -> str | None:
        return self._poller.failure
