"""Every suppression in memory, per serving process, checked against a counter the database bumps.

A send asks :meth:`SuppressionCache.reason` instead of querying the suppressions: the
answer comes from a :class:`~tailor.store.store.SuppressionIndex` of all of them, loaded
once. Every write to the ``suppressions`` table — from any process, host or hand-typed
SQL — bumps ``store_meta["suppressions_version"]`` (database triggers, migration 0009), and
each answer first reads that one row by its primary key: a new version (an unsubscribe
recorded by another worker) reloads the set before answering, so the other worker's next
send honours it. A send reads the counter in the statement that loads the recipient's
profile (:meth:`Store.load_send_profile`) and hands it over: no query of its own. Never
weaker than the query: when the counter cannot be read (a store created without the
migration, or any error) the answer is :meth:`Store.is_suppressed`'s;
while the set changes faster than once per :data:`RELOAD_EVERY_S`, answers between reloads
are queried too.

Consent needs no cache: it lives on the profile document the render has already loaded.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import select

from .models import StoreMeta, Suppression

#: the ``store_meta`` key of the counter (migration 0009 creates it and its triggers)
VERSION_KEY = "suppressions_version"
#: the shortest time between two full reloads; a change within it is answered by the query
RELOAD_EVERY_S = 1.0

#: the counter's value (no row: not kept)
VERSION_QUERY = select(StoreMeta.value).where(StoreMeta.key == VERSION_KEY)


class SuppressionCache:
    """:meth:`Store.is_suppressed` from memory, for a process that sends many emails."""

    def __init__(self, store: Any):
        self.store = store
        self._lock = threading.Lock()
        #: (version, index, monotonic time of the load); None until first loaded
        self._loaded: tuple[str, Any, float] | None = None
        #: how many times the whole set was read
        self.loads = 0

    def reason(
        self, profile_id: str | None = None, *, email: str | None = None, version: str | None = None
    ) -> str | None:
        """The reason this profile (or address) must not be emailed, or None — as the store says now.

        ``version`` is the counter as the caller has just read it — a send reads it with the
        recipient's profile (:meth:`Store.load_send_profile`) — else it is read here.
        """
        if email is None and profile_id is not None:
            # the store would also match the hash of the stored profile's address, which the
            # caller does not have: ask it (a recipient without an address is rare)
            return self.store.is_suppressed(profile_id)
        if version is None:
            try:
                version = self._version()
            except Exception:
                version = None
        if version is None:  # no counter to trust: ask the store, as without the cache
            return self.store.is_suppressed(profile_id, email=email)
        loaded = self._loaded
        if loaded is None or loaded[0] != version:
            if loaded is not None and time.monotonic() - loaded[2] < RELOAD_EVERY_S:
                return self.store.is_suppressed(profile_id, email=email)
            loaded = self._reload()
        return loaded[1].reason(profile_id, email=email)

    def _version(self) -> str | None:
        with self.store.engine.connect() as conn:
            value = conn.execute(VERSION_QUERY).scalar()
        return None if value is None else str(value)

    def _reload(self) -> tuple[str, Any, float]:
        from .store import SuppressionIndex

        with self._lock:
            table = Suppression.__table__
            with self.store.engine.connect() as conn:
                # the counter before the rows: a write in between makes the next check reload
                # again (under READ COMMITTED each statement sees its own snapshot)
                version = conn.execute(VERSION_QUERY).scalar()
                rows = conn.execute(
                    select(table.c.id, table.c.profile_id, table.c.email_hash, table.c.reason).order_by(table.c.id)
                ).all()
            self.loads += 1
            self._loaded = (str(version), SuppressionIndex(rows, self.store.hash_email), time.monotonic())
            return self._loaded
