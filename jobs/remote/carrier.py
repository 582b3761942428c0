"""What a remote retraining moves through Redis, as plain data: files, a manifest, events.

- Files are content-addressed blobs (`tvdesk:remote:blob:<sha256>`): a file another job sent
  already (the base images a camera's jobs all replay) is not sent again; the reader checks
  every file's SHA-256. They expire after BLOB_TTL_S unless a job uses them again.
- A job (a `ticket`) has a JSON manifest, a stream of JSON events (stage, progress, results),
  the number of its current attempt, a cancel mark and a lease its worker keeps alive.

Nothing here is pickled: Huey's own task message (the ticket and the attempt number) is the
only pickle on the queue.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

PREFIX = "tvdesk:remote"
BLOB_TTL_S = 2 * 24 * 3600  # a job may wait this long for a worker
JOB_TTL_S = 2 * 24 * 3600
CANCELLED_TTL_S = 600  # a cancelled job's keys stay this long, for its worker to see it
JOB_PARTS = ("manifest", "events", "attempt")
LEASE_S = 10.0  # a worker that has not renewed its lease this long is taken for dead
STREAM_MAXLEN = 10_000
BATCH_BYTES = 16 << 20  # files per Redis round trip, by size
MB = 1 << 20


class CarrierError(RuntimeError):
    """The queue cannot carry what was asked; the message says why and what to do."""


class PayloadTooLargeError(CarrierError):
    """More data than the queue is allowed to hold for one job."""


@dataclass(frozen=True)
class Event:
    """One message of a job's stream: its `kind` and data, from attempt `attempt`."""

    ticket: str
    id: str
    attempt: int
    kind: str
    data: dict[str, Any]


def file_refs(files: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
    """Each file's SHA-256 and size, by its name in the payload."""
    return {
        name: {"sha256": _sha256(path), "size": path.stat().st_size} for name, path in files.items()
    }


def total_mb(refs: Mapping[str, Mapping[str, Any]]) -> float:
    return sum(int(ref["size"]) for ref in refs.values()) / MB


def check_size(refs: Mapping[str, Mapping[str, Any]], limit_mb: float, what: str, advice: str):
    """Raise PayloadTooLargeError, saying what to do, when `refs` add up to over `limit_mb`."""
    size = total_mb(refs)
    if size > limit_mb:
        raise PayloadTooLargeError(
            f"{what} is {size:.1f} MB, more than the {limit_mb:g} MB that remote_max_mb in "
            f"settings.toml lets through the queue: {advice}"
        )


class Carrier:
    """Files, manifests, events, leases and cancels of remote jobs on one Redis server."""

    def __init__(self, conn: Redis, description: str) -> None:
        self.conn = conn
        self.description = description  # the queue's URL, password masked

    @contextlib.contextmanager
    def reaching(self) -> Iterator[None]:
        """Turn a lost connection into a CarrierError that says what to do."""
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise CarrierError(
                f"cannot reach the training queue {self.description} ({type(exc).__name__}): "
                "start Redis there, or unset TVDESK_QUEUE to train on this machine"
            ) from None

    # -- files ---------------------------------------------------------------------------------

    def put_files(self, files: Mapping[str, Path], refs: Mapping[str, Mapping[str, Any]]) -> int:
        """Store the files Redis does not hold yet; returns the bytes sent."""
        keys = {ref["sha256"]: files[name] for name, ref in refs.items()}
        with self.reaching():
            present = self._present(list(keys))
            missing = [(sha, path) for sha, path in keys.items() if sha not in present]
            sent = 0
            for batch in _batches(missing):
                pipe = self.conn.pipeline(transaction=False)
                for sha, path in batch:
                    data = path.read_bytes()
                    pipe.set(_blob(sha), data, ex=BLOB_TTL_S)
                    sent += len(data)
                pipe.execute()
        return sent

    def get_files(self, refs: Mapping[str, Mapping[str, Any]], root: Path) -> int:
        """Write each file under `root` by its name, checking its SHA-256; the bytes read."""
        items = [(payload_path(root, name), ref) for name, ref in refs.items()]
        received = 0
        with self.reaching():
            for batch in _batches([(ref["sha256"], (path, ref)) for path, ref in items]):
                pipe = self.conn.pipeline(transaction=False)
                for sha, _ in batch:
                    pipe.get(_blob(sha))
                for (sha, (path, _)), data in zip(batch, pipe.execute(), strict=True):
                    _write_checked(path, data, sha)
                    received += len(data)
        return received

    def forget_files(self, refs: Mapping[str, Mapping[str, Any]]) -> None:
        with self.reaching():
            if refs:
                self.conn.delete(*{_blob(ref["sha256"]) for ref in refs.values()})

    def _present(self, shas: list[str]) -> set[str]:
        """The blobs Redis holds already, their time to live renewed."""
        pipe = self.conn.pipeline(transaction=False)
        for sha in shas:
            pipe.expire(_blob(sha), BLOB_TTL_S)
        return {sha for sha, found in zip(shas, pipe.execute(), strict=True) if found}

    # -- a job's manifest, events, attempt, cancel and lease ------------------------------------

    def put_manifest(self, ticket: str, manifest: dict[str, Any]) -> None:
        with self.reaching():
            self.conn.set(_key(ticket, "manifest"), json.dumps(manifest), ex=JOB_TTL_S)
            self.conn.set(_key(ticket, "attempt"), 1, ex=JOB_TTL_S)

    def manifest(self, ticket: str) -> dict[str, Any]:
        with self.reaching():
            text = self.conn.get(_key(ticket, "manifest"))
        if text is None:
            raise CarrierError(
                f"job {ticket} is no longer on the queue (it expired after "
                f"{JOB_TTL_S // 3600} h, or its app forgot it): approve the retraining again"
            )
        return json.loads(text)

    def post(self, ticket: str, attempt: int, kind: str, **data: Any) -> None:
        """Add an event to the job's stream."""
        event = json.dumps({"kind": kind, **data})
        key = _key(ticket, "events")
        with self.reaching():
            pipe = self.conn.pipeline(transaction=False)
            pipe.xadd(key, {"attempt": attempt, "event": event}, maxlen=STREAM_MAXLEN)
            pipe.expire(key, JOB_TTL_S)
            pipe.execute()

    def read(self, after: Mapping[str, str], block_ms: int) -> list[Event]:
        """Events of the jobs `after` maps (ticket -> last event id seen), waiting up to
        `block_ms` for the first."""
        if not after:
            return []
        streams = {_key(ticket, "events"): last for ticket, last in after.items()}
        with self.reaching():
            replies = self.conn.xread(streams, block=block_ms) or []
        return [
            _event(_text(key), _text(event_id), fields)
            for key, entries in replies
            for event_id, fields in entries
        ]

    def set_attempt(self, ticket: str, attempt: int) -> None:
        with self.reaching():
            self.conn.set(_key(ticket, "attempt"), attempt, ex=JOB_TTL_S)

    def attempt(self, ticket: str) -> int:
        with self.reaching():
            value = self.conn.get(_key(ticket, "attempt"))
        return int(value) if value is not None else 0

    def request_cancel(self, ticket: str) -> None:
        """Mark the job cancelled; what the queue holds of it goes after CANCELLED_TTL_S."""
        with self.reaching():
            pipe = self.conn.pipeline(transaction=False)
            pipe.set(_key(ticket, "cancel"), 1, ex=CANCELLED_TTL_S)
            for part in JOB_PARTS:
                pipe.expire(_key(ticket, part), CANCELLED_TTL_S)
            pipe.execute()

    def cancel_requested(self, ticket: str) -> bool:
        with self.reaching():
            return bool(self.conn.exists(_key(ticket, "cancel")))

    def hold_lease(self, ticket: str, attempt: int, holder: dict[str, Any]) -> None:
        """Take or renew the job's lease for LEASE_S."""
        value = json.dumps({"attempt": attempt, **holder})
        with self.reaching():
            self.conn.set(_key(ticket, "lease"), value, px=int(LEASE_S * 1000))

    def lease(self, ticket: str) -> dict[str, Any] | None:
        """Who holds the job's lease now, or None when nobody has renewed it for LEASE_S."""
        with self.reaching():
            value = self.conn.get(_key(ticket, "lease"))
        return json.loads(value) if value is not None else None

    def forget(self, ticket: str) -> None:
        """Delete what the queue holds of the job (not its files: other jobs may share them)."""
        keys = [_key(ticket, part) for part in (*JOB_PARTS, "cancel")]
        with self.reaching():
            self.conn.delete(*keys)


def payload_path(root: Path, name: str) -> Path:
    """`root / name` for a payload file name, refusing names that would leave `root`."""
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name:
        raise CarrierError(f"refusing the payload file name {name!r}: it leaves the job's folder")
    return root.joinpath(*parts)


def _write_checked(path: Path, data: bytes | None, sha: str) -> None:
    if data is None:
        raise CarrierError(
            f"{path.name} is no longer on the queue (its data expired after "
            f"{BLOB_TTL_S // 3600} h): approve the retraining again"
        )
    if hashlib.sha256(data).hexdigest() != sha:
        raise CarrierError(f"{path.name} arrived damaged (its SHA-256 differs): retry the job")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _batches(items: list[tuple[str, Any]]) -> Iterator[list[tuple[str, Any]]]:
    """`items` in groups of about BATCH_BYTES (by their files' sizes, where known)."""
    batch: list[tuple[str, Any]] = []
    size = 0
    for item in items:
        batch.append(item)
        size += _size_of(item[1])
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _size_of(value: Any) -> int:
    if isinstance(value, Path):
        return value.stat().st_size
    return int(value[1]["size"])


def _event(key: str, event_id: str, fields: Mapping[Any, Any]) -> Event:
    values = {_text(k): _text(v) for k, v in fields.items()}
    data = json.loads(values["event"])
    ticket = key.removeprefix(f"{PREFIX}:job:").removesuffix(":events")
    return Event(ticket, event_id, int(values["attempt"]), data.pop("kind"), data)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _sha256(path: Path) -> str:
    from tvdesk.core.atomic import sha256_of

    return sha256_of(path)


def _blob(sha: str) -> str:
    return f"{PREFIX}:blob:{sha}"


def _key(ticket: str, part: str) -> str:
    return f"{PREFIX}:job:{ticket}:{part}"
