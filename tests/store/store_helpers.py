"""Small builders of Segment messages and table counts for the store tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from tailor.store import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TABLES = ("profiles", "identities", "events", "products", "trigger_state", "suppressions")


def track(message_id: str, event: str = "Product Viewed", *, user: str | None = "u-1", anon: str | None = None,
          ts: str = "2026-11-20T10:00:00Z", **properties: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "track", "event": event, "messageId": message_id, "timestamp": ts,
                               "properties": properties}
    if user:
        message["userId"] = user
    if anon:
        message["anonymousId"] = anon
    return message


def identify(message_id: str, *, user: str | None = None, anon: str | None = None, ts: str = "2026-11-20T10:00:00Z",
             **traits: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "identify", "messageId": message_id, "timestamp": ts, "traits": traits}
    if user:
        message["userId"] = user
    if anon:
        message["anonymousId"] = anon
    return message


def table_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}
