"""Profile documents (SPEC.md "The profile document"), data-subject export and erasure."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Text, bindparam, delete, func, literal, or_, select, type_coerce, union_all, update
from sqlalchemy.exc import DBAPIError

from tailor.strict_json import loads_stored

from .models import Event, Identity, Profile, Suppression, TriggerState
from .suppressions import VERSION_QUERY
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
    kinds, params = _references(id, email, user_id, anonymous_id, hash_email)
    if not kinds:
        return None
    rows = conn.execute(_lookup_query(id is not None, kinds), params).all()
    return _preferred(rows, 0, 1)


def _references(
    id: str | None, email: str | None, user_id: str | None, anonymous_id: str | None, hash_email: Callable[[str], str]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The identity kinds one reference is looked up by, and the values bound to :func:`_lookup_query`."""
    refs: list[tuple[str, str]] = []
    if user_id is not None:
        refs.append(("user_id", str(user_id)))
    if anonymous_id is not None:
        refs.append(("anonymous_id", str(anonymous_id)))
    if email is not None:
        refs.append(("email", hash_email(email)))
    if id is not None:
        refs += [("user_id", str(id)), ("anonymous_id", str(id))]
    params = {f"value_{i}": value for i, (_, value) in enumerate(refs)}
    if id is not None:
        params["id"] = str(id)
    return tuple(kind for kind, _ in refs), params


def _preferred(rows: Sequence[Any], via: int, id: int) -> Any:
    """The row a lookup resolves to, None if none: an exact profile id beats an identity that
    happens to have the same text (``via`` and ``id`` are the rows' positions of those columns)."""
    if not rows:
        return None
    return min(rows, key=lambda r: (r[via], r[id]))


@functools.lru_cache(maxsize=64)
def _lookup_query(by_id: bool, kinds: tuple[str, ...], document: bool = False) -> Any:
    """The lookup of :func:`find_profile` for one shape of reference, built once (values bound per call).

    Building a SQLAlchemy statement costs more than running it on an indexed table. The
    ``document`` form (:func:`read_profile_document`) selects only what the profile document
    shows — not ``stamps``, which only writes need — and the suppressions' change counter.
    """
    p = profiles_t.c
    columns: list[Any] = [p.id, p.email, p.traits, p.consents, _SUPPRESSIONS_VERSION] if document else [profiles_t]
    # two indexed lookups glued by UNION ALL: an OR across them would scan ``profiles``
    parts = []
    if by_id:
        parts.append(select(literal(0).label("via"), *columns).where(p.id == bindparam("id")))
    identity = identities_t.c
    clauses = [(identity.kind == kind) & (identity.value == bindparam(f"value_{i}")) for i, kind in enumerate(kinds)]
    parts.append(
        select(literal(1).label("via"), *columns)
        .join(identities_t, identities_t.c.profile_id == profiles_t.c.id)
        .where(or_(*clauses))
    )
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    return query.limit(8)


#: the suppressions' change counter (:mod:`tailor.store.suppressions`), NULL when it is not kept
_SUPPRESSIONS_VERSION = VERSION_QUERY.scalar_subquery().label("version")


def read_profile_document(
    conn: Connection,
    *,
    id: str | None = None,
    email: str | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    hash_email: Callable[[str], str],
    event_limit: int | None = 500,
) -> tuple[dict[str, Any] | None, str | None]:
    """:func:`profile_document` of what :func:`find_profile` finds (None if unknown), and the
    suppressions' change counter read with it (None if unknown or not kept).

    A send makes this read for every recipient, so it is two statements on the driver's own
    cursor (:func:`driver_rows`): the lookup, which also reads the counter the suppression
    cache checks (:meth:`~tailor.store.suppressions.SuppressionCache.reason`), and the events.
    SQLAlchemy's per-statement work — the transaction it opens, the compiled-statement cache,
    the result and its row processing — cost more than the statements themselves.
    """
    kinds, params = _references(id, email, user_id, anonymous_id, hash_email)
    if not kinds:
        return None, None
    row = _preferred(driver_rows(conn, _lookup_query(id is not None, kinds, True), params), 0, 1)
    if row is None:
        return None, None
    _, profile_id, address, traits, consents, version = row
    events = driver_rows(conn, _events_query(False, event_limit is not None), _events_params(profile_id, event_limit))
    # newest first from the index, oldest first in the document
    document = _document(
        profile_id,
        address,
        _stored_json(traits),
        _stored_json(consents),
        [_event_document(*event) for event in reversed(events)],
    )
    return document, None if version is None else str(version)


def _stored_json(value: Any) -> Any:
    """A JSON column as the engine's deserializer reads it: SQLite hands over its text, psycopg
    the value its loader (the same :func:`loads_stored`) decoded."""
    return loads_stored(value) if isinstance(value, (str, bytes)) else value


class DriverStatement(NamedTuple):
    """A SQLAlchemy statement compiled once for one dialect, to run on the driver's cursor."""

    sql: str
    #: the values bound at compile time (literals, a fixed LIMIT)
    defaults: dict[str, Any]
    #: a positional driver's (SQLite's ``?``) parameter names in order; None for named ones
    names: tuple[str, ...] | None

    def arguments(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        return merged if self.names is None else tuple(merged[name] for name in self.names)


#: per dialect (one per engine; dropped with it), the statements compiled for it
_driver_statements: weakref.WeakKeyDictionary[Any, dict[Any, DriverStatement]] = weakref.WeakKeyDictionary()


def _driver_statement(dialect: Any, query: Any) -> DriverStatement:
    """``query`` (one built once, e.g. by :func:`_lookup_query`) compiled for ``dialect``, once."""
    compiled_for = _driver_statements.setdefault(dialect, {})
    statement = compiled_for.get(query)
    if statement is None:
        compiled = query.compile(dialect=dialect)
        names = tuple(compiled.positiontup) if dialect.positional else None
        statement = compiled_for[query] = DriverStatement(compiled.string, dict(compiled.params), names)
    return statement


def driver_rows(conn: Connection, query: Any, values: Mapping[str, Any]) -> Sequence[Any]:
    """Every row of ``query`` (one built once) as the driver hands them over, outside SQLAlchemy's
    execution: compiled once per dialect (:func:`_driver_statement`), ``values`` bound by name.

    Only for reads (no transaction is begun: on SQLite the statement runs on its own, on
    PostgreSQL in the driver's implicit transaction, rolled back when the connection goes back
    to the pool). A driver error is raised as SQLAlchemy raises it (``OperationalError`` for a
    lost database, which the service answers with 503), and a lost connection is dropped.
    """
    statement = _driver_statement(conn.dialect, query)
    fairy = conn.connection
    arguments = statement.arguments(values)
    cursor = fairy.cursor()
    try:
        cursor.execute(statement.sql, arguments)
        return cursor.fetchall()
    except conn.dialect.loaded_dbapi.Error as error:
        lost = conn.dialect.is_disconnect(error, fairy.dbapi_connection, cursor)
        if lost:
            conn.invalidate()
        raise DBAPIError.instance(
            statement.sql,
            arguments,
            error,
            conn.dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=conn.dialect,
        ) from error
    finally:
        cursor.close()


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
    params = _events_params(row.id, event_limit)
    # all rows at once: fetching them one by one through the result costs more than the query
    events = [
        event_dict(e, full=full) for e in conn.execute(_events_query(full, event_limit is not None), params).all()
    ]
    events.reverse()
    return _document(row.id, row.email, row.traits, row.consents, events)


def _document(
    profile_id: str, email: str | None, traits: Any, consents: Any, events: list[dict[str, Any]]
) -> dict[str, Any]:
    """The profile document's form, one definition for every read that builds one (a send's,
    an export's, a campaign partition's): traits and consents as fresh dicts (NULL: empty)."""
    return {
        "id": profile_id,
        "email": email,
        "traits": dict(traits or {}),
        "consents": dict(consents or {}),
        "events": events,
    }


def _events_params(profile_id: str, event_limit: int | None) -> dict[str, Any]:
    """The values bound to :func:`_events_query` (``limit`` only when there is one)."""
    params: dict[str, Any] = {"profile_id": profile_id}
    if event_limit is not None:
        params["limit"] = event_limit
    return params


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
    docs = {row.id: _document(row.id, row.email, row.traits, row.consents, []) for row in rows}
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
