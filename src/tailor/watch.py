"""Noticing edits to the marketers' folders without a file watcher."""

from __future__ import annotations

import time
from collections.abc import Iterable
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


class FolderWatch:
    """The one change detector over a set of folders, looked at no more than every :attr:`recheck_seconds`.

    A render asks several times (rules, experiments, each template); walking the folders
    once a second at most keeps that off the hot path, while an edit is still live on
    the next request a second later. ``stamp(fresh=True)`` looks now (the studio's live
    edit loop and ``tailor check`` must not see a second-old state).
    """

    def __init__(self, folders: Iterable[Path], recheck_seconds: float = 1.0):
        self.folders = tuple(Path(f) for f in folders)
        self.recheck_seconds = recheck_seconds
        self._stamp: tuple | None = None
        self._looked_at = float("-inf")

    def stamp(self, *, fresh: bool = False) -> tuple:
        """One stamp per folder; equal stamps mean no file was added, removed or changed."""
        now = time.monotonic()
        if fresh or self._stamp is None or now - self._looked_at >= self.recheck_seconds:
            stamp = tuple(folder_stamp(folder) for folder in self.folders)
            if stamp != self._stamp:
                self._stamp = stamp  # unchanged: keep the old object, so callers can compare by identity
            self._looked_at = now
        return self._stamp
