"""Small builders of Segment messages and table counts for the store tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from segment_messages import identify, track  # noqa: F401 - re-exported for the tests here
from tailor.store import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TABLES = ("profiles", "identities", "events", "products", "trigger_state", "suppressions")


def table_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}
