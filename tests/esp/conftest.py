"""Fixtures of the ESP webhook tests: a store of each dialect, a real HTTP server, signing keys.

The database fixtures (`database_url`, `store`: SQLite and PostgreSQL) come from the
root conftest.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sendgrid_keys():
    """A fresh ECDSA P-256 key pair: (private key, public key as base64 DER like SendGrid shows it)."""
    from esp_helpers import new_sendgrid_keys

    return new_sendgrid_keys()
