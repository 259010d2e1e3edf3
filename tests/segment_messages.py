"""Segment messages for tests: ``track(...)`` and ``identify(...)`` with sensible defaults."""

from __future__ import annotations

from typing import Any


def track(
    message_id: str,
    event: str = "Product Viewed",
    *,
    user: str | None = "u-1",
    anon: str | None = None,
    ts: str = "2026-11-20T10:00:00Z",
    kind: str = "track",
    **properties: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": kind, "messageId": message_id, "timestamp": ts, "properties": properties}
    if kind == "track":
        message["event"] = event
    else:
        message["name"] = event
    if user:
        message["userId"] = user
    if anon:
        message["anonymousId"] = anon
    return message


def identify(
    message_id: str,
    *,
    user: str | None = None,
    anon: str | None = None,
    ts: str = "2026-11-20T10:00:00Z",
    **traits: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "identify", "messageId": message_id, "timestamp": ts, "traits": traits}
    if user:
        message["userId"] = user
    if anon:
        message["anonymousId"] = anon
    return message
