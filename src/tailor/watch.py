"""Noticing edits to the marketers' folders without a file watcher."""

from __future__ import annotations

from pathlib import Path


def folder_stamp(folder: Path) -> tuple:
    """A cheap change detector: path, modification time and size of every file below ``folder``."""
    if not folder.is_dir():
        return ()
    entries = []
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            entries.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))
