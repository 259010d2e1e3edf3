"""A real HTTP server (Werkzeug, in a thread, on a free loopback port) around a Flask app."""

from __future__ import annotations

from typing import Iterator

import pytest

from webtools import LiveServer, load_shop


@pytest.fixture
def serve() -> Iterator:
    """``serve(app)`` starts ``app`` on a real socket and returns its base URL."""
    servers: list[LiveServer] = []

    def start(app) -> str:
        server = LiveServer(app).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def shop_db(tmp_path_factory) -> str:
    """A SQLite store holding the example shop, loaded once per test session (read-only use)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('shop-store') / 'shop.db'}"
    load_shop(url)
    return url
