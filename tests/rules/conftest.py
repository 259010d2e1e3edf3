"""Helpers for the rules, triggers and features tests."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

#: The example shop's reference "now" (docs/data-formats.md).
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def at() -> datetime:
    return AT


@pytest.fixture
def rules_dir(tmp_path: Path):
    """``write(name, yaml)`` puts a rule file into a fresh rules directory."""
    directory = tmp_path / "rules"
    directory.mkdir()

    def write(name: str, text: str) -> Path:
        path = directory / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    write.dir = directory  # type: ignore[attr-defined]
    return write


def event(name: str, timestamp: str, message_id: str | None = None, /, **properties) -> dict:
    """A Segment track message as in the profile document."""
    message = {"type": "track", "event": name, "timestamp": timestamp, "properties": properties}
    if message_id:
        message["messageId"] = message_id
    return message
