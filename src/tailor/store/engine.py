"""Engines for SQLite (WAL, foreign keys, secure delete) and PostgreSQL, and the one write transaction.

A SQLite store is one file, and a file can be deleted or replaced under a running
server. Open connections would go on writing to the deleted inode, acknowledging every
write, and the next connection would silently create a new empty file. So the engine
remembers the file's ``(st_dev, st_ino)`` when it first opens it; every checkout
compares it with what is at the path (one ``stat``), later connections never create
the file (``mode=rw``), and a mismatch makes every call fail as
:class:`~sqlalchemy.exc.OperationalError` — "store unavailable" (HTTP 503, ``/healthz``).
"""

from __future__ import annotations

import os
import sqlite3
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url

from tailor.strict_json import loads_stored

#: the file check of each SQLite file engine
_store_files: weakref.WeakKeyDictionary[Engine, StoreFile] = weakref.WeakKeyDictionary()
#: arbitrary constant: the PostgreSQL advisory lock that serializes ingestion writers
_WRITE_LOCK = 7_406_117


def make_engine(database_url: str, **options: Any) -> Engine:
    """An engine for ``database_url``; SQLite gets WAL and foreign keys on every connection."""
    url = make_url(database_url)
    # reading profiles back (traits, consents, stamps) is much of what ingestion does
    options.setdefault("json_deserializer", loads_stored)
    if url.get_backend_name() == "sqlite":
        # a busy writer makes others wait (30 s) instead of failing with "database is locked"
        options.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **options)
        _configure_sqlite(engine)
        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("", "psycopg2") and not _has_psycopg2():
        url = url.set(drivername="postgresql+psycopg")
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def _has_psycopg2() -> bool:
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return False
    return True


class StoreFile:
    """The identity of an engine's SQLite file, taken when it is first opened."""

    def __init__(self, path: Path):
        self.path = path
        self.identity: tuple[int, int] | None = None
        #: sticky: once the file was seen gone or replaced, the store stays unavailable until a
        #: restart (a freed inode number can be reused by the next file at the same path)
        self.lost: str | None = None

    def current(self) -> tuple[int, int] | None:
        """``(st_dev, st_ino)`` of what is at the path now, or None when nothing is."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def problem(self) -> str | None:
        """Why the store file is not the one opened (deleted, replaced), or None when it is."""
        if self.identity is None or self.lost:
            return self.lost
        now = self.current()
        if now is None:
            self.lost = "the store file was deleted while in use"
        elif now != self.identity:
            self.lost = "the store file was replaced while in use"
        return self.lost


def store_file(engine: Engine) -> StoreFile | None:
    """The file check of a SQLite file engine (None for PostgreSQL and in-memory SQLite)."""
    return _store_files.get(engine)


def missing_sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL when it does not exist (None otherwise, and for ``:memory:``)."""
    try:
        url = make_url(database_url)
    except exc.ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    path = Path(url.database)
    return None if path.exists() else path


def _configure_sqlite(engine: Engine) -> None:
    # URI file names (``file:...?mode=...``) are the caller's own business: not checked
    uri = str(engine.url.database or "").startswith("file:")
    checked = None if _in_memory(engine) or uri else StoreFile(Path(str(engine.url.database)).resolve())
    if checked is not None:
        _store_files[engine] = checked

    @event.listens_for(engine, "do_connect")
    def _do_connect(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if checked is not None and checked.identity is not None and not cparams.get("uri"):
            # the file existed once: a later connection must not create an empty one in its place
            cargs[:] = [f"{checked.path.as_uri()}?mode=rw"]
            cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        # let SQLAlchemy emit BEGIN itself (pysqlite's implicit BEGIN cannot be IMMEDIATE)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # deleted rows are overwritten with zeros, not left in free pages (erasure)
        cursor.execute("PRAGMA secure_delete=ON")
        if not _in_memory(engine):
            cursor.execute("PRAGMA journal_mode=WAL")
        if checked is not None:
            if checked.identity is None:
                checked.identity = checked.current()
            problem = checked.problem()
            if problem:
                cursor.close()
                dbapi_connection.close()
                raise sqlite3.OperationalError(problem)
        cursor.close()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        problem = checked.problem() if checked is not None else None
        if problem:
            # drop every pooled connection to the old file; reconnecting then fails (mode=rw)
            raise exc.InvalidatePoolError(problem)

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # writers take the write lock up front: a deferred transaction that reads and
        # then writes can fail with SQLITE_BUSY instead of waiting for the lock
        mode = "IMMEDIATE" if connection.get_execution_options().get("tailor_write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


def _in_memory(engine: Engine) -> bool:
    return engine.url.database in (None, "", ":memory:")


def truncate_wal(engine: Engine) -> bool:
    """SQLite: copy the WAL into the database file and empty it, so deleted rows are gone from
    both files (with ``secure_delete``); False when a reader kept it from finishing. PostgreSQL:
    nothing to do here (``VACUUM``, see docs/store.md)."""
    if engine.dialect.name != "sqlite" or store_file(engine) is None:
        return True
    with engine.connect() as connection:
        busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    return busy is None or busy[0] == 0


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One serialized write transaction: committed on success, rolled back on any error."""
    with engine.connect() as connection:
        connection.execution_options(tailor_write=True)
        with connection.begin():
            if connection.dialect.name == "postgresql":
                # ingestion batches touch overlapping identities; serialize them so identity
                # resolution and merges never race (readers are not blocked)
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})
            yield connection
