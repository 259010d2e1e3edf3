"""Fixtures of the ESP webhook tests: a store of each dialect, a real HTTP server, signing keys.

The database fixtures follow tests/store/conftest.py: SQLite (a temporary file) and
PostgreSQL at 127.0.0.1:5432 (trust auth, database ``test``), a fresh schema per test;
PostgreSQL is skipped with the reason when unreachable, except under ``CI=true``.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from tailor.store import Store

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HOST = os.environ.get("TAILOR_TEST_PG_HOST", "127.0.0.1:5432")
PG_DATABASE = os.environ.get("TAILOR_TEST_PG_DATABASE", "test")

_pg: dict[str, str | None] = {}


def _postgres_base() -> str:
    if not _pg:
        errors = []
        for user in [u for u in (os.environ.get("TAILOR_TEST_PG_USER"), "postgres", "root") if u]:
            url = f"postgresql+psycopg://{user}@{PG_HOST}/{PG_DATABASE}"
            engine = create_engine(url, connect_args={"connect_timeout": 3})
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                _pg["base"] = url
                break
            except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
                errors.append(f"{user}: {type(exc).__name__}")
            finally:
                engine.dispose()
        else:
            _pg["error"] = f"PostgreSQL not reachable at {PG_HOST}/{PG_DATABASE} ({'; '.join(errors)})"
    if not _pg.get("base"):
        if IN_CI:
            pytest.fail(f"required in CI: {_pg.get('error')}")
        pytest.skip(_pg.get("error") or "PostgreSQL not reachable")
    return _pg["base"]  # type: ignore[return-value]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tailor.db'}"
        return
    base = _postgres_base()
    schema = f"tailor_esp_{uuid.uuid4().hex[:12]}"
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
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()


class _LiveServer:
    def __init__(self, app, host: str = "127.0.0.1"):
        self.server = make_server(host, 0, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "_LiveServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator:
    """``serve(app)`` starts ``app`` on a real loopback socket (threaded Werkzeug) and returns its URL."""
    servers: list[_LiveServer] = []

    def start(app) -> str:
        server = _LiveServer(app).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def sendgrid_keys():
    """A fresh ECDSA P-256 key pair: (private key, public key as base64 DER like SendGrid shows it)."""
    from esp_helpers import new_sendgrid_keys

    return new_sendgrid_keys()
