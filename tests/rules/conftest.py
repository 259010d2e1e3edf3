"""Fixtures for the rules, triggers and features tests (plain helpers live in rules_helpers.py)."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from rules_helpers import AT


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
