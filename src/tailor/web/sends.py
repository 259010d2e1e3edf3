"""Idempotent sends: the same ``send_id`` gets the same answer and counts once.

Braze renders a message several times for one recipient (HTML, text, AMP, retries) and
caches GET responses for 5 minutes; tailor keeps each answer for longer than that.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from tailor.caches import TTLCache


class SendCache(TTLCache):
    """The answers of recent sends, for longer than Braze's 5 minutes; bounded, shared by the request threads."""

    def __init__(self, max_entries: int = 20_000, ttl_seconds: float = 900.0):
        super().__init__(ttl=ttl_seconds, maxsize=max_entries)

    def put(self, key: Hashable, value: Any) -> None:
        self.set(key, value)
