"""kill -9 of the server during ingestion: no acknowledged event lost, no partial batch."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import text

from tailor.store import Store

SERVER = textwrap.dedent("""
    import sys
    from flask import Flask
    from werkzeug.serving import make_server
    from tailor.config import Settings
    from tailor.store import Store
    from tailor.web.ingest import create_ingest_blueprint

    store = Store(sys.argv[1])
    app = Flask("crash")
    app.register_blueprint(create_ingest_blueprint(store, Settings()))
    make_server("127.0.0.1", int(sys.argv[2]), app, threaded=True).serve_forever()
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_kill_9_loses_no_acknowledged_event(database_url: str, tmp_path: Path) -> None:
    Store(database_url).migrate()
    port = _free_port()
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    proc = subprocess.Popen(
        [sys.executable, str(script), database_url, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/v1/batch"
    acknowledged: list[list[str]] = []
    sent: list[list[str]] = []
    stop = threading.Event()

    def sender(worker: int) -> None:
        n = 0
        while not stop.is_set():
            ids = [f"w{worker}-b{n}-m{i}" for i in range(50)]
            batch = [
                {
                    "type": "track",
                    "event": "Product Viewed",
                    "userId": f"u-{worker}-{i % 5}",
                    "messageId": mid,
                    "properties": {"product_id": f"sku-{i}"},
                }
                for i, mid in enumerate(ids)
            ]
            sent.append(ids)
            try:
                r = requests.post(
                    url, data=json.dumps({"batch": batch}), headers={"Content-Type": "application/json"}, timeout=10
                )
            except requests.RequestException:
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                acknowledged.append(ids)
            n += 1

    try:
        deadline = time.time() + 20
        while time.time() < deadline:  # wait until the server answers
            try:
                requests.post(url, data="{}", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < 20 and time.time() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: some batches are in flight
        proc.wait(timeout=10)
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(acknowledged) >= 20
    store = Store(database_url)
    with store.engine.connect() as conn:
        stored = set(conn.execute(text("SELECT message_id FROM events")).scalars())
    store.close()
    for ids in acknowledged:
        assert set(ids) <= stored  # durable before the 200
    for ids in sent:
        present = set(ids) & stored
        assert present in (set(), set(ids))  # all or nothing
