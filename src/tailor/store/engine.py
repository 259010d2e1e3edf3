"""Engines for SQLite (WAL, foreign keys) and PostgreSQL, and the one write transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

#: arbitrary constant: the PostgreSQL advisory lock that serializes ingestion writers
_WRITE_LOCK = 7_406_117


def make_engine(database_url: str, **options: Any) -> Engine:
    """An engine for ``database_url``; SQLite gets WAL and foreign keys on every connection."""
    url = make_url(database_url)
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


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        # let SQLAlchemy emit BEGIN itself (pysqlite's implicit BEGIN cannot be IMMEDIATE)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if not _in_memory(engine):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # writers take the write lock up front: a deferred transaction that reads and
        # then writes can fail with SQLITE_BUSY instead of waiting for the lock
        mode = "IMMEDIATE" if connection.get_execution_options().get("tailor_write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


def _in_memory(engine: Engine) -> bool:
    return engine.url.database in (None, "", ":memory:")


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
