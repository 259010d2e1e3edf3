"""`tailor ingest`: a progress bar on stderr only when asked or on a terminal; one summary line per file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tailor.cli import main


def _events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    lines = [
        {"type": "track", "event": "Product Viewed", "userId": f"u-{i % 3}", "messageId": f"m{i}"} for i in range(20)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    path, url = _events(tmp_path), f"sqlite:///{tmp_path / 'store.db'}"
    result = CliRunner().invoke(main, ["ingest", "--database-url", url, str(path)], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == f"{path}: 20 stored, 0 already present\n"
    assert "storing" not in result.stderr and "ingesting" not in result.stderr


def test_progress_bars_on_stderr_when_asked_and_stdout_stays_the_summary(tmp_path: Path) -> None:
    path, url = _events(tmp_path), f"sqlite:///{tmp_path / 'store.db'}"
    args = ["ingest", "--database-url", url, "--progress", "--chunk-size", "7", str(path)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0
    assert "ingesting events.jsonl" in result.stderr and "storing events.jsonl" in result.stderr
    assert result.stdout == f"{path}: 20 stored, 0 already present\n"
    again = CliRunner().invoke(main, args, catch_exceptions=False)
    assert again.stdout == f"{path}: 0 stored, 20 already present\n"
