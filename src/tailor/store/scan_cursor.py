"""The incremental trigger scan's reads: what changed since its cursor (``trigger_scan_cursors``).

Each read costs what changed, not the history: new events by primary key (``events.id``
above the cursor), events in a time slice by ``ix_events_timestamp``, and the chosen
profiles' events, firings and consents by their profile ids.

Event ids follow commit order: every ingestion writes inside the serialized write
transaction (:func:`tailor.store.engine.write_transaction`: SQLite's single writer, a
PostgreSQL advisory lock), so a transaction that commits later also took later ids, and
an id at or below the cursor was already visible when the cursor was written.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from .models import Event, Profile, TriggerScanCursor, TriggerState
from .upsert import upsert

events_t = Event.__table__
cursors_t = TriggerScanCursor.__table__
trigger_t = TriggerState.__table__
profiles_t = Profile.__table__
ID_CHUNK = 500


def read(conn: Connection, name: str) -> Any:
    """The cursor row ``name`` (``specs_digest, last_event_id, scanned_at, due``), or None."""
    return conn.execute(select(cursors_t).where(cursors_t.c.name == name)).first()


def save(conn: Connection, name: str, specs_digest: str, last_event_id: int, at: datetime, due: list[str]) -> None:
    row = {"name": name, "specs_digest": specs_digest, "last_event_id": last_event_id, "scanned_at": at, "due": due}
    upsert(conn, cursors_t, [row], ["name"])


def clear_due(conn: Connection, name: str) -> None:
    conn.execute(update(cursors_t).where(cursors_t.c.name == name).values(due=[]))


def last_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(events_t.c.id), 0))).scalar_one())


def profiles_with_new_events(conn: Connection, after_id: int, up_to_id: int) -> set[str]:
    """Profiles with an event stored after the cursor (``after_id < id <= up_to_id``)."""
    query = select(events_t.c.profile_id).where(events_t.c.id > after_id, events_t.c.id <= up_to_id).distinct()
    return set(conn.execute(query).scalars())


def profiles_with_events_between(conn: Connection, names: Iterable[str], lo: datetime, hi: datetime) -> set[str]:
    """Profiles with a track event named in ``names`` timed in ``(lo, hi]``."""
    query = select(events_t.c.profile_id).where(
        events_t.c.timestamp > lo,
        events_t.c.timestamp <= hi,
        events_t.c.type == "track",
        events_t.c.event.in_(sorted(names)),
    )
    return set(conn.execute(query.distinct()).scalars())


def profiles_fired_between(conn: Connection, trigger: str, lo: datetime, hi: datetime) -> set[str]:
    """Profiles whose ``trigger`` fired in ``(lo, hi]`` (a cooldown ending now)."""
    query = select(trigger_t.c.profile_id).where(
        trigger_t.c.trigger == trigger, trigger_t.c.fired_at > lo, trigger_t.c.fired_at <= hi
    )
    return set(conn.execute(query.distinct()).scalars())


def history_of(conn: Connection, ids: Collection[str]) -> list[dict[str, Any]]:
    """The firings of these profiles (as :func:`tailor.store.outbox.history`, naive UTC)."""
    columns = (trigger_t.c.profile_id, trigger_t.c.trigger, trigger_t.c.key, trigger_t.c.fired_at)
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(ids):
        query = select(*columns).where(trigger_t.c.profile_id.in_(chunk)).order_by(trigger_t.c.id)
        rows += [dict(r) for r in conn.execute(query).mappings()]
    return rows


def refused_among(conn: Connection, ids: Collection[str]) -> set[str]:
    """Which of these profiles refused personalization (as ``Store.personalization_refused``)."""
    refused = set()
    for chunk in _chunks(ids):
        for pid, consents in conn.execute(
            select(profiles_t.c.id, profiles_t.c.consents).where(profiles_t.c.id.in_(chunk))
        ):
            if (consents or {}).get("personalization", True) is False:
                refused.add(pid)
    return refused


def _chunks(ids: Collection[str]) -> Iterable[list[str]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), ID_CHUNK):
        yield ordered[start : start + ID_CHUNK]
