"""Fixtures (SQLite + PostgreSQL databases, a counting receiver), shop data and a scan runner.

Databases as in tests/store: PostgreSQL at 127.0.0.1:5432 (trust auth, database ``test``);
without it its half is skipped — except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tailor.client import SIGNATURE_HEADER, verify

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
SECRET = "scan-test-secret"
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Receiver:
    """``url``; ``deliveries`` (every accepted POST, in order) and ``per_key`` counts.

    ``fail_first`` answers that many requests with ``fail_status``; ``block_at`` makes
    the n-th request wait for ``release`` (after setting ``blocked``) before answering.
    """

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self.requests = 0
        self.bad_signatures = 0
        self.fail_first = 0
        self.fail_status = 503
        self.block_at: int | None = None
        self.delay = 0.0
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # the name http.server dispatches POST to
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests += 1
                    number = receiver.requests
                    failing = number <= receiver.fail_first
                if failing:
                    self._answer(receiver.fail_status)
                    return
                try:
                    verify(body, self.headers.get(SIGNATURE_HEADER), [SECRET], method="POST", path=self.path)
                except ValueError:
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self._answer(401)
                    return
                with receiver.lock:
                    receiver.deliveries.append({"key": self.headers.get("Idempotency-Key"), "body": json.loads(body)})
                if receiver.block_at is not None and len(receiver.deliveries) == receiver.block_at:
                    receiver.blocked.set()
                    receiver.release.wait(60)
                elif receiver.delay:
                    threading.Event().wait(receiver.delay)
                self._answer(200)

            def _answer(self, status: int) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender was killed meanwhile

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def per_key(self) -> Counter:
        with self.lock:
            return Counter(d["key"] for d in self.deliveries)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def added(message_id: str, user: str, when: datetime, sku: str = "sku-0001") -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Product Added",
        "userId": user,
        "messageId": message_id,
        "timestamp": iso(when),
        "properties": {"product_id": sku, "price": 49.0, "quantity": 1, "name": f"P {sku}"},
    }


def ordered(message_id: str, user: str, when: datetime, sku: str = "sku-0001") -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "messageId": message_id,
        "timestamp": iso(when),
        "properties": {"products": [{"product_id": sku, "price": 49.0, "quantity": 1}], "total": 49.0},
    }


def abandoned_carts(count: int, at: datetime = AT) -> list[dict[str, Any]]:
    """``count`` users with a cart left 3 hours before ``at`` (due), plus noise that is not due."""
    messages = []
    for i in range(count):
        messages.append(added(f"cart-{i}", f"u-{i:03d}", at - timedelta(hours=3), sku=f"sku-{i % 7:04d}"))
    messages.append(added("fresh", "u-fresh", at - timedelta(minutes=10)))  # not an hour old yet
    messages.append(added("bought", "u-bought", at - timedelta(hours=5)))
    messages.append(ordered("bought-order", "u-bought", at - timedelta(hours=4)))
    return messages


def run_scan(database_url: str, *args: str, wait: bool = True, cwd: Path | None = None):
    """``python -m tailor.cli.triggers scan --database-url URL --rules rules/ ARGS`` in a subprocess."""
    command = [
        sys.executable,
        "-m",
        "tailor.cli.triggers",
        "scan",
        "--database-url",
        database_url,
        "--rules",
        str(RULES),
        "--backoff",
        "0.01",
        *args,
    ]
    env = {**os.environ, "TAILOR_SECRET": SECRET}
    if wait:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=240, cwd=cwd)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]
