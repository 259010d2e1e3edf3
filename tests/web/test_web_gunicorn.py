"""`tailor serve --workers 2` (gunicorn) as a real process over the example shop in SQLite."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import requests
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
        },
    )
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


def test_stops_cleanly(gunicorn_server):
    server, _ = gunicorn_server
    output = server.stop()
    assert server.proc.returncode == 0, output
    assert len(set(re.findall(r"Booting worker with pid: (\d+)", output))) == 2, output
    assert "Shutting down: Master" in output
    assert '"level": "error"' not in output and "Traceback" not in output
