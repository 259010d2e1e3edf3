"""The store a long-running tailor uses: opened on first use, migrated once it is reachable.

A render-only tailor (no ``database_url``) never imports SQLAlchemy; a server whose
database is down at start keeps serving what needs no store and migrates on the first
call after the database is back.
"""

from __future__ import annotations

from typing import Any

from tailor.store.engine import missing_sqlite_path


class LazyStore:
    """Opens :class:`~tailor.store.Store` for ``database_url`` when first asked for it."""

    def __init__(self, database_url: str | None, *, create: bool = False):
        self.database_url = database_url
        #: a render-only tailor does not create an empty SQLite file just to find it empty
        self.create = create
        self._store: Any = None
        self._unmigrated = False

    def get(self) -> Any:
        """The migrated store, None without a database (or a missing SQLite file not to be created)."""
        if self._store is None and self.database_url:
            from tailor.store.store import Store

            if not self.create and missing_sqlite_path(self.database_url) is not None:
                return None
            self._store = Store(self.database_url)
            self._unmigrated = True  # at head this is one cheap query; an older store gets upgraded
        if self._unmigrated:
            try:
                self._store.migrate()
                self._unmigrated = False
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                # the database is down right now: keep the store so every call that needs it
                # fails as "unavailable" (HTTP 503, /healthz), and migrate once it is back
        return self._store


def is_unreachable(exc: Exception) -> bool:
    """A database that cannot be connected to (as opposed to a bug)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))
