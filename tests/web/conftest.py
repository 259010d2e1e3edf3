"""Web tests: `serve(app)` (a real server) comes from the root conftest; the example shop store is here."""

from __future__ import annotations

import pytest
from webtools import load_shop


@pytest.fixture(scope="session")
def shop_db(tmp_path_factory) -> str:
    """A SQLite store holding the example shop, loaded once per test session (read-only use)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('shop-store') / 'shop.db'}"
    load_shop(url)
    return url
