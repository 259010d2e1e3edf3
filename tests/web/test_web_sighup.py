"""`kill -HUP` makes a running `tailor serve` load the newest trained recommendation artifacts."""

from __future__ import annotations

import signal
import time

import pytest
from click.testing import CliRunner
from webtools import ROOT, ServeProcess

from tailor.cli import main


@pytest.mark.slow
def test_sighup_loads_newest_artifacts(tmp_path):
    artifacts = tmp_path / "artifacts"
    env = {
        "TAILOR_TEMPLATES": str(ROOT / "templates"),
        "TAILOR_RULES": str(ROOT / "rules"),
        "TAILOR_DATABASE_URL": f"sqlite:///{tmp_path / 'absent.db'}",
        "TAILOR_ARTIFACTS": str(artifacts),
    }
    server = ServeProcess("--create-store", env=env)  # serve refuses a missing store file otherwise
    try:
        server.wait_ready()
        server.proc.send_signal(signal.SIGHUP)
        _wait_for(server, "SIGHUP: no recommendation artifacts")
        trained = CliRunner().invoke(
            main,
            [
                "recs",
                "train",
                "--events",
                str(ROOT / "fixtures" / "events.jsonl"),
                "--catalog",
                str(ROOT / "fixtures" / "catalog.csv"),
                "--out",
                str(artifacts),
            ],
        )
        assert trained.exit_code == 0, trained.output
        server.proc.send_signal(signal.SIGHUP)
        _wait_for(server, "SIGHUP: loaded the serving recommendation artifacts")
        assert server.proc.poll() is None, "the server keeps running"
    finally:
        server.stop()


def _wait_for(server: ServeProcess, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.output():
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in:\n{server.output()}")
