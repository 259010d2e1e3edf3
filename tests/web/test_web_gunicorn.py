"""`tailor serve --workers 2` (gunicorn) as a real process over the example shop in SQLite."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import create_engine, text
from webtools import ROOT, SHOP_FILES, ServeProcess, load_shop

AT = "2026-11-23T12:00:00Z"


def ingest(database_url: str) -> None:
    """`tailor ingest` when the command exists, else the same through the Store API."""
    env_cmd = [sys.executable, "-c", "from tailor.cli import main; main()"]
    has_ingest = subprocess.run([*env_cmd, "ingest", "--help"], capture_output=True).returncode == 0
    if has_ingest:
        done = subprocess.run(
            [*env_cmd, "ingest", *map(str, SHOP_FILES)],
            capture_output=True,
            text=True,
            env={"TAILOR_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
            cwd=ROOT,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    else:
        load_shop(database_url)


#: what the tests of the one server share: its store and journal, renders answered, workers killed
RUN: dict = {}

pytestmark = pytest.mark.slow  # a gunicorn master and two workers over the example shop


@pytest.fixture(scope="module")
def gunicorn_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("gunicorn")
    shutil.copytree(ROOT / "templates", work / "templates")
    shutil.copytree(ROOT / "rules", work / "rules")
    database_url = f"sqlite:///{work / 'tailor.db'}"
    ingest(database_url)
    server = ServeProcess(
        "--workers",
        "2",
        cwd=work,
        env={
            "TAILOR_TEMPLATES": str(work / "templates"),
            "TAILOR_RULES": str(work / "rules"),
            "TAILOR_DATABASE_URL": database_url,
            "TAILOR_API_TOKENS": "tok-test",
            "TAILOR_ARTIFACTS": str(work / "artifacts"),
            # no flush while serving: the send records reach the store only by a worker's
            # boot (what a killed one left) or its SIGTERM drain, which is what is tested
            "TAILOR_SEND_FLUSH_MS": "3600000",
        },
    )
    RUN.update(database_url=database_url, journal=work / ".tailor" / "send-journal", rendered=0, killed=0)
    try:
        health = server.wait_ready(timeout=120)
        yield server, health
    finally:
        server.stop()


def test_two_workers_serve_the_store(gunicorn_server):
    server, health = gunicorn_server
    assert health == {"status": "ok"}, "no details without credentials"
    auth = {"Authorization": "Bearer tok-test"}
    health = requests.get(f"{server.url}/healthz", headers=auth, timeout=30).json()
    assert health["status"] == "ok" and health["store"] == "ok"
    subjects = set()
    session = requests.Session()
    for n in range(1, 21):  # enough requests that both workers answer some
        r = session.post(
            f"{server.url}/v1/render",
            headers=auth,
            timeout=30,
            json={"template": "newsletter", "recipient": {"id": f"u-{n:05d}"}, "at": AT},
        )
        if r.status_code == 422:  # an abort rule (e.g. no marketing consent) is a correct answer too
            assert r.json()["type"].endswith("/aborted")
            continue
        assert r.status_code == 200, r.text
        data = r.json()
        assert "unknown-recipient" not in [f["reason"] for f in data["fallbacks"]]
        subjects.add(data["subject"])
        RUN["rendered"] += 1
    assert len(subjects) > 10, "each recipient got their own (named) subject"
    metrics = session.get(f"{server.url}/metrics", headers=auth, timeout=30).text
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("tailor_render_seconds_count") and 'template="newsletter"' in line
    )
    assert counted == 20, "/metrics adds up both workers' renders"
    r = session.get(
        f"{server.url}/v1/content/newsletter/hero", params={"recipient": "u-00001", "at": AT}, headers=auth, timeout=30
    )
    assert r.status_code == 200 and r.json()["block"] == "hero/cart-reminder"
    r = session.post(
        f"{server.url}/v1/render", json={"template": "newsletter", "recipient": {"id": "u-00001"}}, timeout=30
    )
    assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"


def sends_like(database_url: str, pattern: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT send_key FROM sends WHERE send_key LIKE :p")
            return [r[0] for r in conn.execute(query, {"p": pattern})]
    finally:
        engine.dispose()


def test_a_killed_workers_sends_are_inserted_by_the_worker_booted_in_its_place(gunicorn_server):
    server, _ = gunicorn_server
    auth = {"Authorization": "Bearer tok-test"}
    sent = []
    for n in range(1, 11):
        body = {"template": "newsletter", "recipient": {"id": f"u-{n:05d}"}, "at": AT, "send_id": f"killed-{n}"}
        r = requests.post(f"{server.url}/v1/render", headers=auth, timeout=30, json=body)
        if r.status_code == 200:
            sent.append(f"killed-{n}")
    assert sent and sends_like(RUN["database_url"], "killed-%") == []  # journaled, not flushed
    workers = set(re.findall(r"Booting worker with pid: (\d+)", server.output()))
    for pid in workers:
        os.kill(int(pid), signal.SIGKILL)
    RUN["killed"] = len(workers)
    deadline = time.monotonic() + 120
    while sorted(sends_like(RUN["database_url"], "killed-%")) != sorted(sent) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sorted(sends_like(RUN["database_url"], "killed-%")) == sorted(sent), server.output()


def test_stops_cleanly(gunicorn_server):
    server, _ = gunicorn_server
    # workers booted in place of killed ones may still be warming up: gunicorn gives them
    # its 30 s graceful timeout, so wait longer than that for the master
    output = server.stop(timeout=120)
    assert server.proc.returncode == 0, output
    booted = set(re.findall(r"Booting worker with pid: (\d+)", output))
    assert len(booted) == 2 + RUN["killed"], output
    # SIGTERM drained every worker's journal into the store
    assert list(RUN["journal"].glob("*.jsonl")) == []
    assert len(sends_like(RUN["database_url"], "render-%")) >= RUN["rendered"] > 0
    assert "Shutting down: Master" in output
    assert '"level": "error"' not in output and "Traceback" not in output
