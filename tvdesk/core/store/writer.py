"""The batched writer: rows handed over from any thread, written on the writer's own thread.

The frame loop never waits on disk: `insert` only queues. Every `batch_interval_s` the queued
changes are committed in one transaction, so a killed process loses at most the last batch.
A write that fails is never only logged: `failure()` says so, and the session recorder stops
the run with it. Before each batch the disk's free space is checked (`min_free_mb`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import Any

from tvdesk.core.free_space import SpaceGuard
from tvdesk.core.store.connection import StoreError, describe_database_error, immediate
from tvdesk.core.store.database import Store

logger = logging.getLogger(__name__)

BATCH_INTERVAL_S = 0.5
MAX_PENDING = 10_000  # queued changes beyond this are dropped (and counted), never blocking

StoreCall = Callable[[Store], Any]


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class StoreWriter:
    """Owns a `Store` on its own thread. `insert` and `call` queue changes; `close` drains them.

    `lost` counts changes dropped because the queue was full or a batch failed, `written`
    those committed; `error` keeps the last write error (it is also logged). With
    `min_free_mb`, a batch is not written while the disk holds less (a `DiskSpaceError`), and
    `on_low_space(message)` hears once when it falls below twice that.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        batch_interval_s: float = BATCH_INTERVAL_S,
        max_pending: int = MAX_PENDING,
        min_free_mb: float = 0.0,
        on_low_space: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.batch_interval_s = batch_interval_s
        self.lost = 0
        self.written = 0
        self.error: BaseException | None = None
        self._first_failure = ""
        self._min_free_mb = min_free_mb
        self._on_low_space = on_low_space
        self._space: SpaceGuard  # made with the connection, on the writer's thread
        self._queue: queue.Queue = queue.Queue(max_pending)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tvdesk-store-writer")

    def start(self) -> StoreWriter:
        """Open the database on the writer thread; raises StoreError if it cannot be used."""
        self._thread.start()
        self._ready.wait()
        if self.error is not None:
            raise self.error
        return self

    def insert(self, table: str, row: dict[str, Any]) -> None:
        self._put(("insert", table, row))

    def call(self, change: StoreCall) -> None:
        """Run `change(store)` on the writer thread, inside the next batch's transaction."""
        self._put(("call", None, change))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed; False on timeout."""
        if not self._thread.is_alive():
            return self._queue.empty()
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then end the writer thread and close its connection."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def failure(self) -> str:
        """The first lost write as a sentence saying what the database kept; '' if none."""
        return self._first_failure

    def __enter__(self) -> StoreWriter:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _put(self, change: tuple) -> None:
        try:
            self._queue.put_nowait(change)
        except queue.Full:
            self._first_failure = self._first_failure or (
                f"the database {self.path} could not keep up: changes were dropped. It keeps "
                "what was written before; give the player more CPU or disk speed"
            )
            self.lost += 1
            if self.lost == 1 or self.lost % 1000 == 0:
                logger.warning("database writer is behind: %d changes dropped so far", self.lost)

    def _run(self) -> None:
        try:
            store = Store(self.path)
            space = SpaceGuard(store.path.parent, self._min_free_mb, "the database")
            space.require()
        except BaseException as exc:
            self.error = exc if isinstance(exc, StoreError) else StoreError(str(exc))
            self._ready.set()
            return
        self._ready.set()
        self._space = space
        try:
            running = True
            while running:
                batch, markers, running = self._collect()
                if batch:
                    self._write(store, batch)
                for marker in markers:
                    marker.done.set()
        finally:
            store.close()

    def _collect(self) -> tuple[list[tuple], list[_Flush], bool]:
        """Changes for one batch: the first waited for, the rest gathered for the interval."""
        batch: list[tuple] = []
        markers: list[_Flush] = []
        item = self._queue.get()
        deadline = time.monotonic() + self.batch_interval_s
        while True:
            if item is _STOP:
                return batch, markers, False
            if isinstance(item, _Flush):
                markers.append(item)
                return batch, markers, True
            batch.append(item)
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return batch, markers, True

    def _write(self, store: Store, batch: list[tuple]) -> None:
        """One transaction for the batch; a failing `call` loses only itself (a savepoint)."""
        lost_before = self.lost
        try:
            if self._space.check() and self._on_low_space is not None:
                self._on_low_space(self._space.warning())
            with immediate(store.db):
                for (kind, table), group in groupby(batch, key=lambda c: c[:2]):
                    if kind == "insert":
                        store.db[table].insert_all([row for _, _, row in group])
                    else:
                        for _, _, change in group:
                            self._call(store, change)
            self.written += len(batch) - (self.lost - lost_before)
        except Exception as exc:
            self._lose(store, len(batch), exc)

    def _call(self, store: Store, change: StoreCall) -> None:
        try:
            with store.db.atomic():
                change(store)
        except Exception as exc:
            self._lose(store, 1, exc)

    def _lose(self, store: Store, count: int, exc: Exception) -> None:
        # The sentence before the count: a reader that sees `lost` grow (another thread) must
        # find the failure already said.
        self._first_failure = self._first_failure or (
            f"a write to the database failed: {describe_database_error(exc, store.path)}. It "
            f"keeps everything written before ({self.written} changes in this run)"
        )
        self.error = exc
        self.lost += count
        logger.error("could not write %d change(s) to %s: %r", count, store.path, exc)
