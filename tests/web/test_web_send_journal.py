"""A one-worker `tailor serve`: sends journaled while serving, in the store after SIGTERM or kill -9 + restart."""

from __future__ import annotations

import signal

import pytest
import requests
from sqlalchemy import text
from webtools import ROOT, ServeProcess

from segment_messages import identify
from tailor.store import Store

AT = "2026-11-23T12:00:00Z"


def serve(tmp_path, database_url: str) -> ServeProcess:
    env = {
        "TAILOR_TEMPLATES": str(ROOT / "templates"),
        "TAILOR_RULES": str(ROOT / "rules"),
        "TAILOR_DATABASE_URL": database_url,
        "TAILOR_ARTIFACTS": str(tmp_path / "artifacts"),
        "TAILOR_SEND_JOURNAL": str(tmp_path / "journal"),
        "TAILOR_SEND_FLUSH_MS": "3600000",  # never while serving: only the drain or the next boot
    }
    server = ServeProcess("--no-warm", env=env, cwd=tmp_path)  # the first render compiles what it needs
    server.wait_ready(timeout=180)
    return server


def send(server: ServeProcess, keys: range) -> list[str]:
    sent = []
    for n in keys:
        body = {"template": "welcome", "recipient": {"id": "u-1"}, "at": AT, "send_id": f"s-{n}"}
        r = requests.post(f"{server.url}/v1/render", json=body, timeout=120)
        assert r.status_code == 200, r.text
        sent.append(f"s-{n}")
    return sent


def stored(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT send_key FROM sends")))


@pytest.mark.slow
def test_sigterm_drains_and_a_restart_inserts_what_kill_9_left(tmp_path, database_url):
    store = Store(database_url)
    store.migrate()
    store.ingest([identify("i1", user="u-1", ts="2026-11-01T10:00:00Z", email="u1@example.com", first_name="Ann")])
    server = serve(tmp_path, database_url)
    try:
        drained = send(server, range(5))
        assert stored(store) == []  # journaled, not in the store yet
    finally:
        output = server.stop()  # SIGTERM
    assert server.proc.returncode == 0, output
    assert stored(store) == sorted(drained)
    assert list((tmp_path / "journal").glob("*.jsonl")) == []

    server = serve(tmp_path, database_url)
    killed = send(server, range(5, 10))
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    assert stored(store) == sorted(drained)
    server = serve(tmp_path, database_url)  # the next start inserts what the killed one journaled
    try:
        assert stored(store) == sorted(drained + killed)
    finally:
        server.stop()
    store.close()
