"""The delivery journal (table ``deliveries``): each ``send_id`` is sent at most once.

A row's life::

    intent ──(whole content transmitted, final dot next)──▶ committing ──(250)──▶ sent
       │                                                         └──(4xx/5xx answer to the dot)──▶ intent / failed
       ├──(5xx)──▶ failed          (permanent: recorded, never retried)
       ├──(4xx, retries spent)──▶ intent   (deferred: the next run tries again)
       └──(cap reached)──▶ capped   (Smart Sending skipped this person)

**At-most-once, with the ambiguity narrowed to the final dot.** A row in ``intent``
was never offered to the server in full, so a later run sends it (a crash before the
dot loses nothing and duplicates nothing). A row left in ``committing`` — the process
died between transmitting the final dot and recording the answer — may or may not
have been delivered; a re-run does **not** send it again, it reports it as
``unconfirmed`` (``--resend-unconfirmed`` opts into at-least-once for those rows). Why
this side: a recipient who gets a campaign twice complains and may mark it spam, which
costs the whole sending domain; a recipient who misses one email out of a campaign is a
loss the operator can see (the unconfirmed rows) and repair. The window is the time
between one ``send()`` of ``.\\r\\n`` and the server's answer, so in practice the
unconfirmed list is empty or one row.

Which process sends a row is decided by an owner and a lease, as for the trigger
outbox: a row another live run holds is left alone; a dead run's rows are taken over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from tailor.delivery.frequency import FrequencyCap, is_capped, trace_entry
from tailor.store.engine import write_transaction
from tailor.store.models import Delivery
from tailor.store.times import utcnow
from tailor.store.upsert import insert_ignore

deliveries_t = Delivery.__table__

#: journal states that mean "this person got (or is getting) the email": what the cap counts
COUNTED = ("committing", "sent", "handed")
#: final states: a run finding one of these has nothing to do
FINAL = ("sent", "failed", "capped", "handed")


@dataclass
class Claim:
    """What a run may do with one ``send_id``."""

    #: ``send`` (the row is this run's, in ``intent``), ``done`` (a final state), ``unconfirmed``
    #: (left in ``committing``), ``busy`` (another live run holds it), ``capped`` (just capped)
    action: str
    status: str
    row_id: int | None = None
    cap: dict[str, Any] | None = None


def sent_in_period(
    conn: Connection,
    cap: FrequencyCap,
    *,
    profile_id: str | None,
    email_hash: str | None,
    at: datetime,
    send_id: str,
) -> int:
    """Marketing emails counted for this person in the cap's period up to ``at`` (this send excluded)."""
    who = []
    if profile_id:
        who.append(deliveries_t.c.profile_id == profile_id)
    if email_hash:
        who.append(deliveries_t.c.email_hash == email_hash)
    if not who:
        return 0
    query = select(deliveries_t.c.id).where(
        or_(*who),
        deliveries_t.c.marketing.is_(True),
        deliveries_t.c.status.in_(COUNTED),
        deliveries_t.c.counted_at > at - cap.per,
        deliveries_t.c.counted_at <= at,
        deliveries_t.c.send_id != send_id,
    )
    return len(conn.execute(query.limit(cap.max)).all())  # past max the exact count changes nothing


def claim(
    store: Any,
    *,
    send_id: str,
    profile_id: str | None,
    email_hash: str | None,
    template: str,
    marketing: bool,
    cap: FrequencyCap | None,
    owner: str,
    lease: timedelta,
    dead_owners: set[str] | frozenset[str] = frozenset(),
    resend_unconfirmed: bool = False,
) -> Claim:
    """Take ``send_id`` for sending, or say why not; the cap is decided in the same transaction."""
    now = utcnow()
    with write_transaction(store.engine) as conn:
        row = conn.execute(select(deliveries_t).where(deliveries_t.c.send_id == send_id)).first()
        if row is not None:
            if row.status in FINAL:
                return Claim("done", row.status, row.id)
            if row.status == "committing" and not resend_unconfirmed:
                return Claim("unconfirmed", row.status, row.id)
            free = row.owner in (None, owner) or row.owner in dead_owners or (row.lease_until or now) <= now
            if not free:
                return Claim("busy", row.status, row.id)
        entry = None
        if marketing and cap is not None:
            count = sent_in_period(conn, cap, profile_id=profile_id, email_hash=email_hash, at=now, send_id=send_id)
            entry = trace_entry(cap, marketing=True, count=count)
        elif not marketing:
            entry = trace_entry(cap, marketing=False)
        status = "capped" if entry is not None and is_capped(entry) else "intent"
        values = {
            "profile_id": profile_id,
            "email_hash": email_hash,
            "template": template,
            "channel": "smtp",
            "marketing": marketing,
            "status": status,
            "owner": owner if status == "intent" else None,
            "lease_until": now + lease if status == "intent" else None,
            "updated_at": now,
        }
        if row is None:
            ids = insert_ignore(
                conn,
                deliveries_t,
                [{"send_id": send_id, "created_at": now, "attempts": 0, **values}],
                ["send_id"],
                returning=deliveries_t.c.id,
            )
            if not ids:  # another run inserted it between our read and our write
                return Claim("busy", "intent")
            row_id = ids[0]
        else:
            conn.execute(update(deliveries_t).where(deliveries_t.c.id == row.id).values(**values))
            row_id = row.id
    return Claim("capped" if status == "capped" else "send", status, row_id, entry)


def _mine(row_id: int, owner: str) -> Any:
    return and_(deliveries_t.c.id == row_id, deliveries_t.c.owner == owner)


def committing(store: Any, row_id: int, owner: str, message_id: str) -> None:
    """The content is transmitted, the final dot is next: from here the email may have been delivered."""
    now = utcnow()
    with write_transaction(store.engine) as conn:
        conn.execute(
            update(deliveries_t)
            .where(_mine(row_id, owner))
            .values(status="committing", message_id=message_id, counted_at=now, updated_at=now)
        )


def finished(store: Any, row_id: int, owner: str, status: str, *, attempts: int, error: str | None = None) -> None:
    """``sent``, ``failed`` (permanent) or back to ``intent`` (deferred: the next run retries)."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "attempts": attempts, "last_error": error, "updated_at": now}
    if status not in COUNTED:
        values["counted_at"] = None
    values.update(owner=None, lease_until=None)
    with write_transaction(store.engine) as conn:
        conn.execute(update(deliveries_t).where(_mine(row_id, owner)).values(**values))


def handed(
    store: Any,
    *,
    send_id: str,
    profile_id: str | None,
    email_hash: str | None,
    template: str,
    marketing: bool,
    cap: FrequencyCap | None,
    at: datetime,
) -> dict[str, Any]:
    """A render for an ESP send (``/v1/render`` with ``send_id``): decide the cap and count the send.

    Returns the trace entry; when it says ``capped`` nothing is recorded (the ESP skips
    the recipient, so the send never happened). A repeated render of the same send is
    neither capped by itself nor counted twice (``send_id`` is unique).
    """
    now = utcnow()
    with write_transaction(store.engine) as conn:
        entry = trace_entry(cap, marketing=marketing)
        if marketing and cap is not None:
            count = sent_in_period(conn, cap, profile_id=profile_id, email_hash=email_hash, at=at, send_id=send_id)
            entry = trace_entry(cap, marketing=True, count=count)
            if is_capped(entry):
                return entry
        insert_ignore(
            conn,
            deliveries_t,
            [
                {
                    "send_id": send_id,
                    "profile_id": profile_id,
                    "email_hash": email_hash,
                    "template": template,
                    "channel": "esp",
                    "marketing": marketing,
                    "status": "handed",
                    "attempts": 0,
                    "created_at": now,
                    "counted_at": at,
                    "updated_at": now,
                }
            ],
            ["send_id"],
        )
    return entry


def owners(store: Any) -> set[str]:
    """Owners holding unfinished rows (to find the dead ones)."""
    with store.engine.connect() as conn:
        query = select(deliveries_t.c.owner).where(deliveries_t.c.owner.is_not(None)).distinct()
        return {r for (r,) in conn.execute(query)}


def rows(store: Any) -> list[dict[str, Any]]:
    """Every journal row, oldest first (for operators and tests)."""
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(deliveries_t).order_by(deliveries_t.c.id)).mappings()]
