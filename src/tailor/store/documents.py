"""Profile documents (SPEC.md "The profile document"), data-subject export and erasure."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable
from typing import Any

from sqlalchemy import Connection, Text, bindparam, delete, func, literal, or_, select, type_coerce, union_all, update

from tailor.strict_json import loads_stored

from .models import Event, Identity, Profile, Suppression, TriggerState
from .times import iso, iso_stored

profiles_t = Profile.__table__
identities_t = Identity.__table__
events_t = Event.__table__
trigger_t = TriggerState.__table__
suppressions_t = Suppression.__table__


def find_profile(
    conn: Connection,
    *,
    id: str | None = None,
    email: str | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    hash_email: Callable[[str], str],
) -> Any:
    """The profile row for one reference, in one indexed query (None if unknown).

    ``id`` is a profile id, or any user id or anonymous id (ids absorbed by a merge
    keep resolving to the surviving profile).
    """
    refs: list[tuple[str, str]] = []
    if user_id is not None:
        refs.append(("user_id", str(user_id)))
    if anonymous_id is not None:
        refs.append(("anonymous_id", str(anonymous_id)))
    if email is not None:
        refs.append(("email", hash_email(email)))
    if id is not None:
        refs += [("user_id", str(id)), ("anonymous_id", str(id))]
    if not refs:
        return None
    params = {f"value_{i}": value for i, (_, value) in enumerate(refs)}
    if id is not None:
        params["id"] = str(id)
    rows = conn.execute(_lookup_query(id is not None, tuple(kind for kind, _ in refs)), params).all()
    if not rows:
        return None
    # an exact profile id beats an identity that happens to have the same text
    return min(rows, key=lambda r: (r.via, r.id))


@functools.lru_cache(maxsize=64)
def _lookup_query(by_id: bool, kinds: tuple[str, ...]) -> Any:
    """The lookup of :func:`find_profile` for one shape of reference, built once (values bound per call).

    Building a SQLAlchemy statement costs more than running it on an indexed table.
    """
    # two indexed lookups glued by UNION ALL: an OR across them would scan ``profiles``
    parts = []
    if by_id:
        parts.append(select(profiles_t, literal(0).label("via")).where(profiles_t.c.id == bindparam("id")))
    identity = identities_t.c
    clauses = [(identity.kind == kind) & (identity.value == bindparam(f"value_{i}")) for i, kind in enumerate(kinds)]
    parts.append(
        select(profiles_t, literal(1).label("via"))
        .join(identities_t, identities_t.c.profile_id == profiles_t.c.id)
        .where(or_(*clauses))
    )
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    return query.limit(8)


def event_dict(row: Any, *, full: bool = False) -> dict[str, Any]:
    """An event as in the profile document; ``full`` adds context and receive time (export)."""
    doc = _event_document(row.type, row.event, row.timestamp, row.properties, row.message_id)
    if full:
        doc["context"] = dict(row.context or {})
        doc["receivedAt"] = iso(row.received_at)
    return doc


def _event_document(kind: str, name: str | None, timestamp: Any, properties: Any, message_id: str) -> dict[str, Any]:
    """An event row's columns as the profile document shows them (time and properties as read by :func:`_raw`)."""
    doc: dict[str, Any] = {"type": kind}
    if name is not None:
        doc["event" if kind == "track" else "name"] = name
    doc["timestamp"] = iso_stored(timestamp)
    doc["messageId"] = message_id
    if isinstance(properties, (str, bytes)):  # read raw (:func:`_raw`): decoded here
        properties = loads_stored(properties)
    doc["properties"] = dict(properties or {})
    return doc


def profile_document(
    conn: Connection, row: Any, event_limit: int | None = 500, *, full: bool = False
) -> dict[str, Any]:
    """The profile document: events oldest first (the most recent ``event_limit`` of them)."""
    params: dict[str, Any] = {"profile_id": row.id}
    if event_limit is not None:
        params["limit"] = event_limit
    # all rows at once: fetching them one by one through the result costs more than the query
    events = [
        event_dict(e, full=full) for e in conn.execute(_events_query(full, event_limit is not None), params).all()
    ]
    events.reverse()
    return {
        "id": row.id,
        "email": row.email,
        "traits": dict(row.traits or {}),
        "consents": dict(row.consents or {}),
        "events": events,
    }


def find_profiles(
    conn: Connection,
    *,
    ids: Collection[str] = (),
    emails: Collection[str] = (),
    user_ids: Collection[str] = (),
    hash_email: Callable[[str], str],
) -> dict[tuple[str, str], Any]:
    """The profile rows for many references in one query: ``{(kind, ref): row}``.

    The bulk form of :func:`find_profile` (``kind`` is ``id``, ``email`` or ``user_id``;
    unknown references are absent): the same two indexed lookups glued by UNION ALL, each
    with an IN list, and the same preference of an exact profile id over an identity.
    """
    ids, user_ids = set(ids), set(user_ids)
    hashes: dict[str, list[str]] = {}
    for email in emails:  # spellings of one address share a hash
        hashes.setdefault(hash_email(email), []).append(email)
    identity_refs: list[tuple[str, Collection[str]]] = []
    if ids or user_ids:
        identity_refs.append(("user_id", {*ids, *user_ids}))
    if ids:
        identity_refs.append(("anonymous_id", ids))
    if hashes:
        identity_refs.append(("email", hashes))
    parts = []
    if ids:
        parts.append(
            select(
                profiles_t, literal(0).label("via"), literal("id").label("ref_kind"), profiles_t.c.id.label("ref")
            ).where(profiles_t.c.id.in_(list(ids)))
        )
    if identity_refs:
        parts.append(
            select(
                profiles_t,
                literal(1).label("via"),
                identities_t.c.kind.label("ref_kind"),
                identities_t.c.value.label("ref"),
            )
            .join(identities_t, identities_t.c.profile_id == profiles_t.c.id)
            .where(
                or_(*[(identities_t.c.kind == kind) & identities_t.c.value.in_(list(v)) for kind, v in identity_refs])
            )
        )
    if not parts:
        return {}
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    found: dict[tuple[str, str], Any] = {}

    def offer(key: tuple[str, str], row: Any) -> None:
        best = found.get(key)
        if best is None or (row.via, row.id) < (best.via, best.id):
            found[key] = row

    for row in conn.execute(query):
        if row.ref_kind == "email":
            for email in hashes[row.ref]:
                offer(("email", email), row)
            continue
        if row.ref_kind in ("id", "anonymous_id") or row.ref in ids:
            offer(("id", row.ref), row)
        if row.ref_kind == "user_id" and row.ref in user_ids:
            offer(("user_id", row.ref), row)
    return found


def profile_documents(
    conn: Connection, rows: Iterable[Any], event_limit: int | None = 500
) -> dict[str, dict[str, Any]]:
    """:func:`profile_document` for many profile rows with one query for all their events: ``{id: document}``.

    On SQLite the events come newest first, profile by profile, along the ``(profile_id,
    timestamp)`` index; each profile keeps its latest ``event_limit`` and only those are
    decoded and turned into documents. A window function (``ROW_NUMBER() OVER (PARTITION BY
    profile_id …)``) would cut in the database, but on SQLite it costs three times the plain
    indexed read (it sorts every row with its properties into a temporary B-tree). PostgreSQL
    keeps the window: its driver decodes every row it sends. A campaign partition loads its
    audience here, so this loop is part of every recipient's cost: rows are unpacked, not
    read by name (both forms build the event with :func:`_event_document`).
    """
    docs = {
        row.id: {
            "id": row.id,
            "email": row.email,
            "traits": dict(row.traits or {}),
            "consents": dict(row.consents or {}),
            "events": [],
        }
        for row in rows
    }
    if not docs:
        return docs
    c = events_t.c
    ids = list(docs)
    if event_limit is not None and conn.dialect.name == "postgresql":
        # PostgreSQL cuts each profile in the server (the window walks the index), so a
        # profile's events past the limit are neither sent nor decoded (psycopg decodes jsonb)
        ranked = select(
            c.profile_id,
            c.type,
            c.event,
            *_raw(),
            c.message_id,
            func.row_number().over(partition_by=c.profile_id, order_by=(c.timestamp.desc(), c.id.desc())).label("rank"),
        ).where(c.profile_id.in_(ids))
        inner = ranked.subquery()
        query = select(inner).where(inner.c.rank <= event_limit).order_by(inner.c.profile_id, inner.c.rank.desc())
        for row in conn.execute(query):
            docs[row.profile_id]["events"].append(event_dict(row))
        return docs
    # SQLite: the plain indexed read, cut in Python; rows past a profile's limit are read raw
    # (:func:`_raw`) and skipped without decoding their JSON
    query = (
        select(c.profile_id, c.type, c.event, *_raw(), c.message_id)
        .where(c.profile_id.in_(ids))
        .order_by(c.profile_id, c.timestamp.desc(), c.id.desc())
    )
    limit = event_limit if event_limit is not None else -1
    events: list[dict[str, Any]] = []
    current = None
    for profile_id, kind, name, timestamp, properties, message_id in conn.execute(query):
        if profile_id != current:
            events.reverse()  # the previous profile's, oldest first
            current, events = profile_id, docs[profile_id]["events"]
        if len(events) == limit:
            continue
        events.append(_event_document(kind, name, timestamp, properties, message_id))
    events.reverse()
    return docs


def _raw() -> list[Any]:
    """The events' time and properties as the driver hands them over, for :func:`event_dict`.

    SQLAlchemy's per-row processing (SQLite's text time parsed into a datetime, the JSON
    decoded through the type) cost four times the query itself on a 500-event profile: the
    time is turned into the document's form by :func:`~tailor.store.times.iso_stored` (SQLite's
    text by slicing, PostgreSQL's datetime as before) and the JSON is decoded once.
    """
    c = events_t.c
    return [type_coerce(c.timestamp, Text).label("timestamp"), type_coerce(c.properties, Text).label("properties")]


@functools.lru_cache(maxsize=4)
def _events_query(full: bool, limited: bool) -> Any:
    """A profile's events, newest first, built once (the profile id and the limit bound per call)."""
    c = events_t.c
    # at send time only what the profile document shows: decoding every event's context
    # JSON would be most of the lookup's cost
    columns = [events_t] if full else [c.type, c.event, *_raw(), c.message_id]
    query = select(*columns).where(c.profile_id == bindparam("profile_id")).order_by(c.timestamp.desc(), c.id.desc())
    return query.limit(bindparam("limit")) if limited else query


def export_document(conn: Connection, row: Any) -> dict[str, Any]:
    """Everything stored about one profile, as JSON (data-subject access)."""
    doc = profile_document(conn, row, None, full=True)
    doc["created_at"] = iso(row.created_at)
    doc["updated_at"] = iso(row.updated_at)
    doc["identities"] = [
        # the email identity is a keyed hash: the address itself is ``email`` above
        {"kind": r.kind, "value": r.value, "created_at": iso(r.created_at)}
        for r in conn.execute(
            select(identities_t).where(identities_t.c.profile_id == row.id).order_by(identities_t.c.id)
        )
    ]
    doc["trigger_state"] = [
        {"trigger": r.trigger, "key": r.key, "fired_at": iso(r.fired_at)}
        for r in conn.execute(select(trigger_t).where(trigger_t.c.profile_id == row.id).order_by(trigger_t.c.id))
    ]
    doc["suppressions"] = [
        {"reason": r.reason, "source": r.source, "created_at": iso(r.created_at)}
        for r in conn.execute(
            select(suppressions_t).where(suppressions_t.c.profile_id == row.id).order_by(suppressions_t.c.id)
        )
    ]
    return doc


def erase(conn: Connection, profile_id: str) -> bool:
    """Delete a profile with its identities, events and trigger state.

    Suppressions keep only their email hash (unlinked from the profile): an erased
    person who unsubscribed must stay unsubscribed if their address comes back.
    """
    exists = conn.execute(select(profiles_t.c.id).where(profiles_t.c.id == profile_id)).first()
    if exists is None:
        return False
    conn.execute(update(suppressions_t).where(suppressions_t.c.profile_id == profile_id).values(profile_id=None))
    conn.execute(
        delete(suppressions_t).where(suppressions_t.c.profile_id.is_(None), suppressions_t.c.email_hash.is_(None))
    )
    for table in (events_t, trigger_t, identities_t):
        conn.execute(delete(table).where(table.c.profile_id == profile_id))
    conn.execute(delete(profiles_t).where(profiles_t.c.id == profile_id))
    return True
