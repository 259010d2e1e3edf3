"""Helpers for the web tests: the example shop in a store, free ports, `tailor serve` as a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from live_server import LiveServer  # noqa: F401 - re-exported for the web tests

ROOT = Path(__file__).resolve().parents[2]
SHOP_FILES = [ROOT / "fixtures" / "catalog.csv", ROOT / "fixtures" / "profiles.csv", ROOT / "fixtures" / "events.jsonl"]


def load_shop(database_url: str) -> None:
    """Migrate ``database_url`` and load the example shop (catalog, profiles, events) into it."""
    from tailor.store import Store

    store = Store(database_url)
    try:
        store.migrate()
        for path in SHOP_FILES:
            store.ingest_file(path)
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """``tailor serve`` in a subprocess on a free loopback port; stopped with SIGTERM."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-c",
            "from tailor.cli import main; main()",
            "serve",
            "--port",
            str(self.port),
            *args,
        ]
        # a file, not a pipe: a pipe nobody reads would block a chatty server; the folder goes
        # when this object does
        self._log_dir = tempfile.TemporaryDirectory(prefix="tailor-serve-")
        self.log_path = Path(self._log_dir.name) / "serve.log"
        with self.log_path.open("wb") as log:  # the server keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                command, env={**os.environ, **(env or {})}, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"tailor serve exited with {self.proc.returncode}:\n{self.stop()}")
            try:
                r = requests.get(f"{self.url}/healthz", timeout=10)
                if r.status_code in (200, 503):
                    return r.json()
            except requests.RequestException:  # not listening yet, or the workers are still warming up
                pass
            time.sleep(0.2)
        raise AssertionError(f"tailor serve did not answer /healthz within {timeout} s:\n{self.stop()}")

    def stop(self, timeout: float = 30.0) -> str:
        """SIGTERM, wait for a clean exit, and return everything the server printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.output()

    def output(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")
