"""Fixtures shared by the whole suite: repository paths, tiny template folders, the MJML
oracle, and a database of each dialect.

``database_url`` / ``store`` run a test twice: on SQLite (a temporary file) and on
PostgreSQL at 127.0.0.1:5432 (trust auth, database ``test``; user ``postgres``, else
``root``, else ``$TAILOR_TEST_PG_USER``), in a fresh schema dropped afterwards. When
PostgreSQL is unreachable its half is skipped with the reason — except under
``CI=true``, where it fails.

Tests are marked by the slow real parts they need (``browser``, ``postgres``, ``oracle``;
``slow`` is set by hand) so that ``make test-quick`` can leave them out of the local loop;
``make test`` and CI run everything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tailor.store import Store

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by the real parts its fixtures start, so no test has to remember to."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "mjml_oracle" in fixtures:
            item.add_marker(pytest.mark.oracle)
        if "browser" in fixtures:  # tests/preview/conftest.py: Debian's chromium via Playwright
            item.add_marker(pytest.mark.browser)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)


def require(condition: bool, reason: str) -> None:
    """Skip when a real dependency is missing — but fail in CI, where nothing may be skipped silently."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def write_templates(tmp_path: Path) -> Callable[..., Path]:
    """Write a small templates folder: ``write_templates({"a.mjml": "...", "blocks/hero/x.mjml": "..."})``."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "templates"
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
        root.mkdir(exist_ok=True)
        return root

    return write


class MJMLOracle:
    """Official MJML (npm ``mjml``) in one long-lived Node process."""

    def __init__(self, script: Path):
        self.proc = subprocess.Popen(
            ["node", str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=script.parent
        )

    def __call__(self, source: str, file_path: Path | None = None) -> str:
        """Official MJML's HTML for ``source``; ``file_path`` is where its ``mj-include`` paths start."""
        assert self.proc.stdin and self.proc.stdout
        request = {"mjml": source, **({"filePath": str(file_path)} if file_path else {})}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise ValueError(answer["error"])
        return answer["html"]

    def close(self) -> None:
        self.proc.terminate()


@pytest.fixture
def serve() -> Iterator:
    """``serve(app)`` starts ``app`` on a real loopback socket and returns its base URL."""
    from live_server import LiveServer

    servers: list[LiveServer] = []

    def start(app) -> str:
        server = LiveServer(app).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def mjml_oracle():
    script = ROOT / "oracle" / "compile.js"
    require(shutil.which("node") is not None, "node is not installed")
    require((ROOT / "oracle" / "node_modules" / "mjml").is_dir(), "official MJML not installed (run `make oracle`)")
    oracle = MJMLOracle(script)
    yield oracle
    oracle.close()


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
        except Exception as exc:  # any failure means "not reachable"
            errors.append(
                f"{user}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            )
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


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of the Redis at 127.0.0.1:6379 (skipped when unreachable; required in CI)."""
    import redis

    try:
        reachable = bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError as exc:
        reachable, reason = False, f"Redis not reachable at {REDIS_URL} ({exc})"
    else:
        reason = ""
    require(reachable, reason)
    return REDIS_URL


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
