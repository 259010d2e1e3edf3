"""The trigger-notification outbox on ``trigger_state`` (``tailor triggers scan --notify``).

A row's life: **claimed** (inserted with its ``payload``; the unique
``(profile_id, trigger, key)`` makes exactly one scan win) → delivered under a
**lease** (``lease_owner``/``lease_until``: one scan at a time) → **notified**
(``notified_at`` set after the receiver's 2xx). A row claimed but never
acknowledged (a crash, the receiver down) stays pending and is delivered again by a
later scan, once its lease has expired or its owner is known to be dead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from .models import TriggerState
from .upsert import insert_ignore

trigger_t = TriggerState.__table__


def history(conn: Connection) -> list[dict[str, Any]]:
    """Every firing: ``profile_id, trigger, key, fired_at`` (naive UTC)."""
    query = select(trigger_t.c.profile_id, trigger_t.c.trigger, trigger_t.c.key, trigger_t.c.fired_at)
    return [dict(r) for r in conn.execute(query.order_by(trigger_t.c.id)).mappings()]


def claim(
    conn: Connection,
    *,
    profile_id: str,
    trigger: str,
    key: str,
    fired_at: datetime,
    payload: dict[str, Any],
    owner: str,
    lease_until: datetime,
    now: datetime,
) -> int | None:
    """Insert a claimed row leased to ``owner``; its id, or None when the key was taken."""
    ids = insert_ignore(
        conn,
        trigger_t,
        [
            {
                "profile_id": profile_id,
                "trigger": trigger,
                "key": key,
                "fired_at": fired_at,
                "payload": payload,
                "claimed_at": now,
                "lease_owner": owner,
                "lease_until": lease_until,
                "attempts": 0,
            }
        ],
        ["profile_id", "trigger", "key"],
        returning=trigger_t.c.id,
    )
    return ids[0] if ids else None


def pending(conn: Connection) -> list[dict[str, Any]]:
    """Claimed rows not acknowledged yet, oldest claim first."""
    query = (
        select(
            trigger_t.c.id,
            trigger_t.c.profile_id,
            trigger_t.c.trigger,
            trigger_t.c.key,
            trigger_t.c.payload,
            trigger_t.c.lease_owner,
            trigger_t.c.lease_until,
            trigger_t.c.attempts,
        )
        .where(trigger_t.c.payload.is_not(None), trigger_t.c.notified_at.is_(None))
        .order_by(trigger_t.c.claimed_at, trigger_t.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def lease(
    conn: Connection, row_id: int, *, owner: str, until: datetime, now: datetime, dead_owners: Iterable[str] = ()
) -> bool:
    """Take (or renew) the delivery lease of a pending row; True if ``owner`` holds it now."""
    free = [
        trigger_t.c.lease_owner.is_(None),
        trigger_t.c.lease_owner == owner,
        trigger_t.c.lease_until.is_(None),
        trigger_t.c.lease_until < now,
    ]
    dead = [d for d in dead_owners if d]
    if dead:
        free.append(trigger_t.c.lease_owner.in_(dead))
    result = conn.execute(
        update(trigger_t)
        .where(and_(trigger_t.c.id == row_id, trigger_t.c.notified_at.is_(None), or_(*free)))
        .values(lease_owner=owner, lease_until=until)
    )
    return result.rowcount == 1


def attempted(conn: Connection, row_id: int, owner: str, error: str | None) -> None:
    """Count one delivery attempt (and its error) of a row ``owner`` holds."""
    conn.execute(
        update(trigger_t)
        .where(trigger_t.c.id == row_id, trigger_t.c.lease_owner == owner)
        .values(attempts=trigger_t.c.attempts + 1, last_error=error)
    )


def acknowledged(conn: Connection, row_id: int, owner: str, now: datetime) -> bool:
    """Mark a row notified (the receiver answered 2xx) and drop the lease."""
    result = conn.execute(
        update(trigger_t)
        .where(trigger_t.c.id == row_id, trigger_t.c.lease_owner == owner, trigger_t.c.notified_at.is_(None))
        .values(notified_at=now, lease_owner=None, lease_until=None, last_error=None)
    )
    return result.rowcount == 1


def release(conn: Connection, row_id: int, owner: str) -> None:
    """Give up the lease (delivery failed for now): any later scan may retry."""
    conn.execute(
        update(trigger_t)
        .where(trigger_t.c.id == row_id, trigger_t.c.lease_owner == owner, trigger_t.c.notified_at.is_(None))
        .values(lease_owner=None, lease_until=None)
    )


def state(conn: Connection) -> list[dict[str, Any]]:
    """Every outbox row (for tests and operators)."""
    query = (
        select(
            trigger_t.c.id,
            trigger_t.c.profile_id,
            trigger_t.c.trigger,
            trigger_t.c.key,
            trigger_t.c.fired_at,
            trigger_t.c.claimed_at,
            trigger_t.c.notified_at,
            trigger_t.c.attempts,
            trigger_t.c.last_error,
            trigger_t.c.lease_owner,
        )
        .where(trigger_t.c.payload.is_not(None))
        .order_by(trigger_t.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
