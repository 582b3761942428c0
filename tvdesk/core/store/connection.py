"""Opening the database: where it lives, WAL and the pragmas every connection needs, migration.

Many processes (the GUI, the CLI, a training worker) open the same file; WAL lets readers and
one writer work at once, and short IMMEDIATE transactions with a busy timeout queue writers
instead of failing them.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

from tvdesk.config import default_data_dir
from tvdesk.core.free_space import DiskSpaceError, free_mb, is_disk_full
from tvdesk.core.store.schema import MIGRATIONS

logger = logging.getLogger(__name__)

DB_NAME = "tvdesk.db"
BUSY_TIMEOUT_S = 15.0  # how long a writer waits for another process's transaction
WAL_RETRY_S = 0.05
FULL_BELOW_MB = 1.0  # an I/O error with less free than this is a full disk


class StoreError(Exception):
    """The database cannot be used; the message says which file and what to do."""


def database_path(data_dir: Path | None = None) -> Path:
    return (data_dir or default_data_dir()) / DB_NAME


def open_database(path: Path) -> Database:
    """A connection to `path` (created if missing) in WAL mode, migrated to the latest schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S))
    try:
        db.execute("PRAGMA foreign_keys = ON")
        with db.ensure_autocommit_on():
            _switch_to_wal(db)
            db.execute("PRAGMA synchronous = NORMAL")  # in WAL: durable against a killed process
        migrate(db, path)
    except BaseException as exc:
        db.close()
        if isinstance(exc, sqlite3.DatabaseError | OSError):
            raise StoreError(describe_database_error(exc, path)) from exc
        raise
    return db


def describe_database_error(exc: BaseException, path: Path) -> str:
    """What went wrong with the database at `path`, and what to do, in one sentence: a full
    disk sends the user to free space (the file is fine), damage to move the file aside."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if isinstance(exc, DiskSpaceError):
        return f"{exc}; the database {path.name} itself is fine"
    if is_disk_full(exc) or code == sqlite3.SQLITE_FULL or _io_error_on_full_disk(code, path):
        return (
            f"the disk holding {path.parent} is full ({exc}): free some space there and try "
            f"again; the database {path.name} itself is fine"
        )
    if _is_busy(exc):
        return (
            f"the database {path} stayed locked by another process for {BUSY_TIMEOUT_S:g} s; "
            "try again, or close the program using it"
        )
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) or isinstance(exc, OSError):
        return f"cannot write the database {path} ({exc}): check that you can write to that folder"
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return (
            f"the database {path} is damaged ({exc}): move it aside (tvdesk then starts a new "
            "one) or put back a backup"
        )
    if code == sqlite3.SQLITE_IOERR:
        return f"cannot read or write the database {path} ({exc}): check the disk"
    return f"cannot use the database {path} ({exc}); move it aside to start a new one"


def _io_error_on_full_disk(code: int, path: Path) -> bool:
    return code == sqlite3.SQLITE_IOERR and free_mb(path.parent) < FULL_BELOW_MB


def _switch_to_wal(db: Database) -> None:
    """WAL mode, retried while busy: two processes that switch a new file at the same moment
    can each hold the shared lock the other must see released, and SQLite then answers one of
    them "locked" at once, without waiting (its busy handler would deadlock)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(WAL_RETRY_S)


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


@contextlib.contextmanager
def immediate(db: Database) -> Iterator[Database]:
    """A write transaction that takes the write lock at once, so it never fails half-way
    because another process wrote between its reads and its writes. Nested: a savepoint."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")  # a full disk fails here, and the transaction would stay open
    except BaseException:
        if db.conn.in_transaction:
            db.rollback()
        raise


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database, path: Path) -> None:
    """Apply the migrations this file lacks, in one transaction: when two processes open a new
    file at once, one migrates and the other then finds nothing left to do."""
    if schema_version(db) == len(MIGRATIONS):
        return  # the common case needs no write lock
    with immediate(db):
        version = schema_version(db)
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{path} was written by a newer tvdesk (schema {version}, this "
                f"one knows {len(MIGRATIONS)}); update tvdesk"
            )
        for number in range(version, len(MIGRATIONS)):
            MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version = {number + 1}")
            logger.debug("database %s migrated to schema %d", path, number + 1)
