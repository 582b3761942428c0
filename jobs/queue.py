"""The job queue: a Huey instance made from the settings, with the retraining tasks on it.

`SqliteHuey` in the app data folder by default (nothing to install or start); `RedisHuey` when
TVDESK_QUEUE=redis://[:password@]host:port/db, so a GPU machine can run `tvdesk worker`.
Tasks are pickled: a queue must never be reachable from an untrusted network.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

from jobs.tasks import pipeline, register_tasks
from tvdesk.config import default_data_dir
from tvdesk.core.sources.stream import UrlError, mask_url, split_url

logger = logging.getLogger(__name__)

QUEUE_ENV = "TVDESK_QUEUE"
QUEUE_NAME = "tvdesk"
SQLITE_NAME = "queue.db"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
CONNECT_TIMEOUT_S = 3.0


class QueueUnavailableError(RuntimeError):
    """The job queue cannot be reached or configured; playback is not affected."""


def make_huey(data_dir: Path | None = None, url: str | None = None) -> Huey:
    """SqliteHuey in `data_dir`, or RedisHuey for a redis:// `url` (default: $TVDESK_QUEUE)."""
    url = os.environ.get(QUEUE_ENV, "") if url is None else url
    if not url:
        path = (data_dir or default_data_dir()) / SQLITE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=str(path))
    if not url.startswith(REDIS_SCHEMES):
        raise QueueUnavailableError(
            f"{QUEUE_ENV}={mask_url(url)} is not a Redis URL: use "
            "redis://[:password@]host:port/db, or unset it for the "
            "local queue"
        )
    try:
        split_url(url)
    except UrlError as exc:
        raise QueueUnavailableError(
            f"{QUEUE_ENV}: {exc}, or unset it to use the local queue"
        ) from None
    try:
        from redis import ConnectionPool
    except ImportError:
        raise QueueUnavailableError(
            "a Redis queue needs the redis package: pip install redis, "
            f"or unset {QUEUE_ENV} to use the local queue"
        ) from None
    pool = ConnectionPool.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    return RedisHuey(QUEUE_NAME, connection_pool=pool)


class JobQueue:
    """A Huey instance with tvdesk's tasks registered, and what the app asks of it."""

    def __init__(self, huey: Huey, url: str = "") -> None:
        self.huey = huey
        self.url = url  # kept for a local worker that sends its jobs' training there
        where = getattr(huey.storage, "filename", huey.name)
        self.description = mask_url(url) if url else f"local ({where})"
        self.tasks: dict[str, TaskWrapper] = register_tasks(huey)

    @property
    def local(self) -> bool:
        return isinstance(self.huey, SqliteHuey)

    def check(self) -> None:
        """Raise QueueUnavailableError with a sentence when the queue cannot be reached."""
        try:
            self.huey.storage.queue_size()
        except Exception as exc:
            raise QueueUnavailableError(
                f"cannot reach the job queue {self.description} ({type(exc).__name__}); "
                f"start Redis there or unset {QUEUE_ENV} to use the local queue. Playback "
                "is not affected"
            ) from None

    def submit_retrain(self, job_id: int, first: str | None = None) -> None:
        """Queue the retraining stages of `job_id` as one chained pipeline, from stage
        `first` (a resumed job) or from the start."""
        self.check()
        self.huey.enqueue(pipeline(self.tasks, job_id, first))
        logger.info("queued retraining job %d on %s", job_id, self.description)

    def pending(self) -> int:
        return self.huey.pending_count()


def open_queue(data_dir: Path | None = None, url: str | None = None) -> JobQueue:
    url = os.environ.get(QUEUE_ENV, "") if url is None else url
    return JobQueue(make_huey(data_dir, url), url)
