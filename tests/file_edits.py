"""Editing the marketers' files the way a live-edit test needs: every edit is seen."""

from __future__ import annotations

import os
from pathlib import Path


def edit(path: Path, text: str) -> None:
    """Write ``text`` and move the mtime forward, so even a same-size edit within one clock tick is seen."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    if stat.st_mtime_ns <= before:
        os.utime(path, ns=(stat.st_atime_ns, before + 1_000_000))
