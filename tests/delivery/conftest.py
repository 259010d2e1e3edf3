"""Delivery tests: a real SMTP server on loopback (aiosmtpd), a real store (the root
conftest's ``store``: SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smtp_server import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server
