"""Fixtures of the ESP webhook tests: a store of each dialect, a real HTTP server, signing keys.

The database fixtures (`database_url`, `store`: SQLite and PostgreSQL) come from the
root conftest.
"""

from __future__ import annotations

import threading
from typing import Iterator

import pytest
from werkzeug.serving import make_server


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
