"""Privacy tests: `database_url` / `store` (both dialects) come from the root conftest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tailor.store import Store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store only (for the slower, dialect-independent workloads)."""
    store = Store(f"sqlite:///{tmp_path / 'privacy.db'}")
    store.migrate()
    yield store
    store.close()
