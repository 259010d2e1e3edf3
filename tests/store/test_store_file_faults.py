"""A SQLite store file deleted or replaced under a running server is noticed, not written to.

Before: open connections went on acknowledging writes to the deleted inode, ``/healthz``
said ok, and a restart created an empty store. Now every call fails as "store
unavailable" (503 problem+json), ``/healthz`` says so, no new file appears, and
``tailor serve`` refuses a missing store file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from tailor.config import Settings
from tailor.store import Store
from tailor.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]


def _track(message_id: str) -> dict:
    return {
        "type": "track",
        "event": "Product Viewed",
        "userId": "u-1",
        "messageId": message_id,
        "timestamp": "2026-11-20T10:00:00Z",
        "properties": {"product_id": "sku-1"},
    }


@pytest.fixture
def served_store(tmp_path: Path, serve):
    db = tmp_path / "live.db"
    with Store(f"sqlite:///{db}") as store:
        store.migrate()
    settings = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=f"sqlite:///{db}")
    url = serve(create_app(settings))
    first = requests.post(f"{url}/v1/track", json=_track("before"), timeout=10)
    assert first.status_code == 200, first.text
    assert requests.get(f"{url}/healthz", timeout=10).json()["store"] == "ok"
    return db, url


def _assert_unavailable(url: str) -> None:
    for i in range(3):  # every pooled connection, not only the first
        answer = requests.post(f"{url}/v1/track", json=_track(f"after-{i}"), timeout=10)
        assert answer.status_code == 503, answer.text
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["type"].endswith("/store-unavailable")
    health = requests.get(f"{url}/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["store"] != "ok"
    assert health.json()["status"] == "unavailable"


def test_a_deleted_store_file_makes_the_server_unavailable(served_store) -> None:
    db, url = served_store
    os.remove(db)
    _assert_unavailable(url)
    assert not db.exists()  # no new empty store was created in its place


def test_a_deleted_store_with_its_wal_makes_the_server_unavailable(served_store) -> None:
    db, url = served_store
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)
    _assert_unavailable(url)
    assert not db.exists()


def test_a_replaced_store_file_makes_the_server_unavailable(served_store, tmp_path: Path) -> None:
    db, url = served_store
    other = tmp_path / "other.db"
    with Store(f"sqlite:///{other}") as store:
        store.migrate()
    shutil.copyfile(other, tmp_path / "copy.db")
    os.replace(tmp_path / "copy.db", db)  # a restore or a stray copy over the live file
    _assert_unavailable(url)


def test_a_store_file_deleted_and_recreated_stays_unavailable(served_store) -> None:
    """The new file may even get the old inode number: once lost, the store stays lost until a restart."""
    db, url = served_store
    os.remove(db)
    _assert_unavailable(url)
    with Store(f"sqlite:///{db}") as store:
        store.migrate()
    _assert_unavailable(url)


def test_serve_refuses_a_missing_store_file(tmp_path: Path, monkeypatch) -> None:
    from tailor.cli import main

    db = tmp_path / "missing.db"
    monkeypatch.chdir(tmp_path)  # no tailor.toml here
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{db}")
    result = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "tailor ingest" in result.output
    assert "Traceback" not in result.output
    assert not db.exists() and list(tmp_path.iterdir()) == []


def test_serve_create_store_creates_the_store(tmp_path: Path) -> None:
    from tailor.cli.serve import _require_store

    db = tmp_path / "new.db"
    _require_store(f"sqlite:///{db}", create=True)
    with Store(f"sqlite:///{db}") as store:
        assert store.health() and store.revision() is not None
    _require_store(f"sqlite:///{db}", create=False)  # an existing store is served as it is


def test_a_gunicorn_worker_refuses_a_missing_store_file(tmp_path: Path) -> None:
    """A worker respawned after the file was deleted stops gunicorn instead of serving an empty store."""
    import subprocess
    import sys

    db = tmp_path / "gone.db"
    env = dict(os.environ, TAILOR_DATABASE_URL=f"sqlite:///{db}", TAILOR_WARM="0")
    run = subprocess.run(
        [sys.executable, "-c", "import tailor.web.wsgi"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 3  # gunicorn's WORKER_BOOT_ERROR: the arbiter halts
    assert "does not exist" in run.stderr and "Traceback" not in run.stderr
    assert not db.exists()


def test_a_store_file_truncated_in_place_is_a_503_not_a_500(served_store) -> None:
    """``: > live.db`` keeps the inode: reads fail with SQLite's "file is not a database" — a problem, never a 500."""
    db, url = served_store
    with db.open("r+b") as fh:
        fh.truncate(0)  # `: > live.db`: the same file, the same inode, no content
    for path in ("/v1/profiles/u-1/export", "/v1/profiles/u-1", "/v1/profiles/u-1/export"):
        answer = requests.get(f"{url}{path}", timeout=10)
        assert answer.status_code != 500, answer.text
        if answer.status_code != 200:  # what SQLite still holds in its WAL may be served
            assert answer.status_code == 503 and answer.headers["Content-Type"] == "application/problem+json"
