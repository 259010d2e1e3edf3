"""Helpers of the rules, triggers and features tests (a module name unique in the suite, importable from the tests).

Tests import these from here, not from ``conftest``: several test folders have a
``conftest.py``, and which one ``import conftest`` finds depends on what pytest loaded first.
"""

from __future__ import annotations

from datetime import UTC, datetime

#: The example shop's reference "now" (docs/data-formats.md).
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def event(name: str, timestamp: str, message_id: str | None = None, /, **properties) -> dict:
    """A Segment track message as in the profile document."""
    message = {"type": "track", "event": name, "timestamp": timestamp, "properties": properties}
    if message_id:
        message["messageId"] = message_id
    return message
