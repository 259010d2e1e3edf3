"""Every privacy test that takes `store` runs twice: on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL is expected at 127.0.0.1:5432 (trust auth, database ``test``; user
``postgres``, else ``root``, else ``$TAILOR_TEST_PG_USER``). Each test gets a fresh
schema, dropped afterwards. When PostgreSQL is unreachable its half is skipped with
the reason — except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from tailor.store import Store

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HOST = os.environ.get("TAILOR_TEST_PG_HOST", "127.0.0.1:5432")
PG_DATABASE = os.environ.get("TAILOR_TEST_PG_DATABASE", "test")

_pg_base: str | None = None
_pg_error: str | None = None


def _find_postgres() -> tuple[str | None, str | None]:
    """The base URL of a reachable PostgreSQL, or the reason there is none."""
    users = [u for u in (os.environ.get("TAILOR_TEST_PG_USER"), "postgres", "root") if u]
    errors = []
    for user in users:
        url = f"postgresql+psycopg://{user}@{PG_HOST}/{PG_DATABASE}"
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url, None
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            errors.append(f"{user}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
        finally:
            engine.dispose()
    return None, f"PostgreSQL not reachable at {PG_HOST}/{PG_DATABASE} ({'; '.join(errors)})"


def postgres_base() -> str:
    global _pg_base, _pg_error
    if _pg_base is None and _pg_error is None:
        _pg_base, _pg_error = _find_postgres()
    if _pg_base is None:
        if IN_CI:
            pytest.fail(f"required in CI: {_pg_error}")
        pytest.skip(_pg_error or "PostgreSQL not reachable")
    return _pg_base


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tailor.db'}"
        return
    base = postgres_base()
    schema = f"tailor_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated, empty store."""
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store only (for the slower, dialect-independent workloads)."""
    store = Store(f"sqlite:///{tmp_path / 'privacy.db'}")
    store.migrate()
    yield store
    store.close()
