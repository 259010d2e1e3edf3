"""Privacy tables and store access: consent history, erasure log, drop counters, export, erasure, purge.

Tables (migration ``0003``):

* ``consent_events`` — every consent statement received (purpose, granted, channel,
  who said it, when), unique per ``(message_id, purpose)`` so re-ingesting a file adds
  nothing. Belongs to the profile: exported with it, erased with it, moved on a merge.
* ``erasure_log`` — one row per identifier of an erased person: only
  ``HMAC(per-database key, "erased:<kind>:<value>")`` and the time. When an ingestion
  later links an identifier with the same hash, the row gets ``returned_at`` and the new
  profile's id: the person is recognised as *new* data (nothing is restored), and the
  export says so in ``metadata.previously_erased``.
* ``privacy_counters`` — per-day counters without personal data, e.g. behavioural
  events dropped because the profile has no ``tracking`` consent.

Everything here takes the caller's connection/transaction, like :mod:`.ingest`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    UniqueConstraint,
    and_,
    case,
    delete,
    func,
    inspect,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Event, Identity, Profile, Suppression, TriggerState
from .staging import insert_rows
from .times import iso, stamp

#: the version of the export document's shape (bump on incompatible changes)
EXPORT_SCHEMA_VERSION = 1
#: message types that describe behaviour: not stored without ``tracking`` consent
BEHAVIOURAL_TYPES = ("track", "page", "screen")
DROPPED_NO_CONSENT = "events_dropped_no_tracking_consent"
CHUNK = 500


class ConsentEvent(Base):
    """One consent statement: ``purpose`` granted or withdrawn, through ``source``, at ``given_at``."""

    __tablename__ = "consent_events"
    __table_args__ = (
        UniqueConstraint("message_id", "purpose", name="uq_consent_events_message"),
        Index("ix_consent_events_profile", "profile_id", "given_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    #: the channel: ``identify``, ``profiles.csv``, ``api``, ``api:<caller's label>``, ``esp:<provider>``
    source: Mapped[str] = mapped_column(String(64))
    #: who made the statement (the message's userId/anonymousId), if known
    subject: Mapped[str | None] = mapped_column(String(255))
    message_id: Mapped[str] = mapped_column(String(255))
    given_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class ErasureLog(Base):
    """An erased identifier, as a keyed hash only, and when; ``returned_*`` when it came back."""

    __tablename__ = "erasure_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_profile_id: Mapped[str | None] = mapped_column(ForeignKey("profiles.id", ondelete="SET NULL"), index=True)


class PrivacyCounter(Base):
    """A named per-day counter (no personal data)."""

    __tablename__ = "privacy_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


consents_t = ConsentEvent.__table__
erasure_t = ErasureLog.__table__
counters_t = PrivacyCounter.__table__
profiles_t = Profile.__table__
identities_t = Identity.__table__
events_t = Event.__table__
trigger_t = TriggerState.__table__
suppressions_t = Suppression.__table__

#: tables erasure handles by name; every other table with a ``profile_id`` column is deleted from
_SPECIAL = {"profiles", "suppressions", "erasure_log"}


# -- the ingestion hooks ------------------------------------------------------


def is_behavioural(record: Any) -> bool:
    return record.store_event and record.type in BEHAVIOURAL_TYPES


def consent_rows(profile_id: str, record: Any, now: datetime) -> list[dict[str, Any]]:
    """History rows for the consents a record states (identify traits or a profiles.csv row)."""
    source = "identify" if record.store_event else "profiles.csv"
    return [
        {
            "profile_id": profile_id,
            "purpose": purpose,
            "granted": bool(granted),
            "source": source,
            "subject": record.user_id or record.anonymous_id,
            "message_id": record.message_id,
            "given_at": record.timestamp,
            "recorded_at": now,
        }
        for purpose, granted in sorted(record.consents.items())
    ]


def record_consent_history(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append consent statements; a statement already recorded (same message, purpose) is skipped."""
    insert_rows(conn, consents_t, rows, conflict=["message_id", "purpose"])


def count(conn: Connection, name: str, n: int, now: datetime) -> None:
    """Add ``n`` to today's counter ``name`` (an upsert that adds, on both dialects)."""
    if n <= 0:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(counters_t).values(name=name, day=now.strftime("%Y-%m-%d"), count=n)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name", "day"], set_={"count": counters_t.c.count + stmt.excluded["count"]}
        )
    )


def counters(conn: Connection, name: str | None = None) -> dict[str, dict[str, int]]:
    """``{name: {day: count}}``."""
    query = select(counters_t).order_by(counters_t.c.name, counters_t.c.day)
    if name is not None:
        query = query.where(counters_t.c.name == name)
    result: dict[str, dict[str, int]] = {}
    for row in conn.execute(query).mappings():  # by name: on a Row, ``.count`` is also tuple.count()
        result.setdefault(row["name"], {})[row["day"]] = row["count"]
    return result


def subject_hash(hash_email: Callable[[str], str], kind: str, value: str) -> str:
    """The erasure log's keyed hash of one identifier (the store's HMAC, domain-separated)."""
    return hash_email(f"erased:{kind}:{value}")


def last_erasures(
    conn: Connection, hash_email: Callable[[str], str], profile_ids: Iterable[str]
) -> dict[str, datetime]:
    """When each of these profile ids was last erased (those ever erased): a record about
    the person made before then (a journaled send reaching the store late) must not be written."""
    from .resolve import ANON_PREFIX

    by_hash: dict[str, str] = {}
    for pid in profile_ids:
        kind, value = ("anonymous_id", pid[len(ANON_PREFIX) :]) if pid.startswith(ANON_PREFIX) else ("user_id", pid)
        by_hash[subject_hash(hash_email, kind, value)] = pid
    erased: dict[str, datetime] = {}
    hashes = sorted(by_hash)
    for start in range(0, len(hashes), CHUNK):
        query = select(erasure_t.c.subject_hash, erasure_t.c.erased_at).where(
            erasure_t.c.subject_hash.in_(hashes[start : start + CHUNK])
        )
        for subject, at in conn.execute(query):
            pid = by_hash[subject]
            erased[pid] = max(at, erased.get(pid, at))
    return erased


def note_returning(
    conn: Connection, identity_rows: Sequence[Mapping[str, Any]], hash_email: Callable[[str], str], now: datetime
) -> int:
    """Mark erased identifiers that an ingestion links again; the number of log rows marked."""
    if not identity_rows:
        return 0
    from .ingest import ID_CHUNK, _member_of  # (ingest imports this module)

    by_hash = {subject_hash(hash_email, r["kind"], r["value"]): r["profile_id"] for r in identity_rows}
    marked = 0
    hashes = sorted(by_hash)
    for start in range(0, len(hashes), ID_CHUNK):
        chunk = hashes[start : start + ID_CHUNK]
        found = conn.execute(
            select(erasure_t.c.id, erasure_t.c.subject_hash).where(
                _member_of(conn, erasure_t.c.subject_hash, chunk), erasure_t.c.returned_at.is_(None)
            )
        ).all()
        for row in found:
            conn.execute(
                update(erasure_t)
                .where(erasure_t.c.id == row.id)
                .values(returned_at=now, returned_profile_id=by_hash[row.subject_hash])
            )
            marked += 1
    return marked


#: tables the merge in :mod:`.ingest` moves itself
_MOVED_BY_INGEST = {"profiles", "identities", "events", "suppressions", "trigger_state", "consent_events"}
_extra_tables: dict[str, list[Any]] = {}


def survivor_case(moves: Mapping[str, str]) -> Callable[[Any], Any]:
    """``table → CASE profile_id WHEN <absorbed> THEN <survivor> … END``: one UPDATE moves many merges."""
    return lambda table: case(dict(moves), value=table.c.profile_id, else_=table.c.profile_id)


def move_rows(conn: Connection, moves: Mapping[str, str]) -> None:
    """On merges (absorbed profile id → survivor): consent history, erasure-log links and rows of any
    other table with a ``profile_id`` (e.g. experiment exposures) follow the person, so export and
    erasure find them."""
    if not moves:
        return
    absorbed = sorted(moves)
    survivor_of = survivor_case(moves)
    conn.execute(
        update(consents_t).where(consents_t.c.profile_id.in_(absorbed)).values(profile_id=survivor_of(consents_t))
    )
    conn.execute(
        update(erasure_t)
        .where(erasure_t.c.returned_profile_id.in_(absorbed))
        .values(returned_profile_id=case(dict(moves), value=erasure_t.c.returned_profile_id))
    )
    key = conn.engine.url.render_as_string(hide_password=True)
    if key not in _extra_tables:  # reflected once per database and process
        _extra_tables[key] = [_reflect(conn, t) for t in profile_tables(conn) if t not in _MOVED_BY_INGEST]
    for table in _extra_tables[key]:
        conn.execute(update(table).where(table.c.profile_id.in_(absorbed)).values(profile_id=survivor_of(table)))


# -- consents through the API -------------------------------------------------


def set_consents(
    conn: Connection, profile_id: str, consents: Mapping[str, bool], *, source: str, now: datetime
) -> dict[str, bool] | None:
    """Record an explicit consent choice (preference centre, API, ESP unsubscribe); the new consents.

    The choice is the person's latest word on each purpose it names: it supersedes what
    every source said before (each source's entry gets this newer stamp), while a
    statement with a later timestamp still wins afterwards ("latest per source, any no
    wins", see :mod:`.resolve`).
    """
    row = conn.execute(select(profiles_t).where(profiles_t.c.id == profile_id)).first()
    if row is None:
        return None
    message_id = f"{source.split(':')[0]}-{uuid.uuid4().hex}"
    new = [stamp(now), message_id]
    stamps = {k: (dict(v) if isinstance(v, dict) else v) for k, v in dict(row.stamps or {}).items()}
    by_purpose = {p: dict(s) for p, s in dict(stamps.get("consents") or {}).items()}
    values = dict(row.consents or {})
    history = []
    for purpose, granted in consents.items():
        sources = by_purpose.setdefault(purpose, {})
        for name in list(sources) or [source]:
            sources[name] = [*new, bool(granted)]
        values[purpose] = all(entry[2] for entry in sources.values())
        history.append(
            {
                "profile_id": profile_id,
                "purpose": purpose,
                "granted": bool(granted),
                "source": source,
                "subject": None,
                "message_id": message_id,
                "given_at": now,
                "recorded_at": now,
            }
        )
    stamps["consents"] = by_purpose
    conn.execute(
        update(profiles_t).where(profiles_t.c.id == profile_id).values(consents=values, stamps=stamps, updated_at=now)
    )
    record_consent_history(conn, history)
    return values


def consent_history(conn: Connection, profile_id: str) -> list[dict[str, Any]]:
    return [
        {
            "purpose": r.purpose,
            "granted": bool(r.granted),
            "source": r.source,
            "subject": r.subject,
            "message_id": r.message_id,
            "given_at": iso(r.given_at),
            "recorded_at": iso(r.recorded_at),
        }
        for r in conn.execute(
            select(consents_t)
            .where(consents_t.c.profile_id == profile_id)
            .order_by(consents_t.c.given_at, consents_t.c.id)
        )
    ]


# -- access -------------------------------------------------------------------


def profile_tables(conn: Connection) -> list[str]:
    """Every table of the database with a ``profile_id`` column (found by reflection, so new ones count)."""
    inspector = inspect(conn)
    return sorted(
        t for t in inspector.get_table_names() if any(c["name"] == "profile_id" for c in inspector.get_columns(t))
    )


def export_full(conn: Connection, row: Any, hash_email: Callable[[str], str], now: datetime) -> dict[str, Any]:
    """Everything stored about one person (data-subject access), as one JSON document."""
    from .documents import export_document

    doc: dict[str, Any] = {"schema_version": EXPORT_SCHEMA_VERSION, "exported_at": iso(now)}
    doc.update(export_document(conn, row))
    doc["locale"] = row.locale
    doc["timezone"] = row.timezone
    #: which message set each trait, the email and each source's consent (last-write-wins bookkeeping)
    doc["write_stamps"] = dict(row.stamps or {})
    doc["consent_history"] = consent_history(conn, row.id)
    doc["trigger_state"] = _trigger_state(conn, row.id)
    email_hash = hash_email(row.email) if row.email else None
    by_email: Sequence[Row[Any]] = []
    if email_hash is not None:
        by_email = conn.execute(
            select(suppressions_t)
            .where(
                suppressions_t.c.email_hash == email_hash,
                or_(suppressions_t.c.profile_id.is_(None), suppressions_t.c.profile_id != row.id),
            )
            .order_by(suppressions_t.c.id)
        ).all()
    doc["suppressions"] = doc.get("suppressions", []) + [
        {"reason": r.reason, "source": r.source, "created_at": iso(r.created_at), "by": "email"} for r in by_email
    ]
    known = {"profiles", "identities", "events", "trigger_state", "suppressions", "consent_events", "erasure_log"}
    doc["experiment_assignments"] = []
    other: dict[str, list[dict[str, Any]]] = {}
    for table_name in profile_tables(conn):
        if table_name in known:
            continue
        table = _reflect(conn, table_name)
        rows = [
            _jsonable(dict(r._mapping))
            for r in conn.execute(
                select(table).where(table.c.profile_id == row.id).order_by(*table.primary_key.columns)
            )
        ]
        for r in rows:
            r.pop("profile_id", None)
        if table_name == "exposures":
            doc["experiment_assignments"] = rows
        else:
            other[table_name] = rows
    doc["other"] = other
    returned = conn.execute(
        select(erasure_t.c.erased_at, erasure_t.c.returned_at)
        .where(erasure_t.c.returned_profile_id == row.id)
        .order_by(erasure_t.c.erased_at)
    ).all()
    doc["metadata"] = {
        # an earlier erasure of this person: this profile was built from new data only
        "previously_erased": bool(returned),
        "previous_erasures": sorted({iso(r.erased_at) for r in returned}),
        "returned_at": iso(min(r.returned_at for r in returned)) if returned else None,
    }
    return doc


def _trigger_state(conn: Connection, profile_id: str) -> list[dict[str, Any]]:
    """Trigger state rows: ``trigger, key, fired_at`` plus any other column that holds something."""
    table = _reflect(conn, "trigger_state")
    out = []
    for r in conn.execute(select(table).where(table.c.profile_id == profile_id).order_by(table.c.id)):
        values = _jsonable(dict(r._mapping))
        entry = {"trigger": values.pop("trigger"), "key": values.pop("key"), "fired_at": values.pop("fired_at")}
        values.pop("id", None)
        values.pop("profile_id", None)
        entry.update({k: v for k, v in values.items() if v not in (None, "", 0, {}, [])})
        out.append(entry)
    return out


# -- erasure ------------------------------------------------------------------


def erase_full(conn: Connection, row: Any, hash_email: Callable[[str], str], now: datetime) -> dict[str, Any]:
    """Delete everything about one person in the caller's transaction; a receipt without personal data.

    Kept: an ``erasure_log`` row per identifier (keyed hash + time), and suppressions as
    a bare email hash (an unsubscribed person stays unsubscribed if the address comes back).
    """
    pid = row.id
    keys = {
        (r.kind, r.value)
        for r in conn.execute(select(identities_t.c.kind, identities_t.c.value).where(identities_t.c.profile_id == pid))
    }
    if row.email:
        keys.add(("email", hash_email(row.email)))
    if not pid.startswith("anon-"):
        keys.add(("user_id", pid))
    first_event = conn.execute(select(func.min(events_t.c.received_at)).where(events_t.c.profile_id == pid)).scalar()
    deleted: dict[str, int] = {}
    # suppressions: keep the email hash, drop the link (and rows that would say nothing)
    conn.execute(update(suppressions_t).where(suppressions_t.c.profile_id == pid).values(profile_id=None))
    conn.execute(
        delete(suppressions_t).where(suppressions_t.c.profile_id.is_(None), suppressions_t.c.email_hash.is_(None))
    )
    conn.execute(update(erasure_t).where(erasure_t.c.returned_profile_id == pid).values(returned_profile_id=None))
    for table_name in profile_tables(conn):
        if table_name in _SPECIAL:
            continue
        table = _reflect(conn, table_name)
        deleted[table_name] = conn.execute(delete(table).where(table.c.profile_id == pid)).rowcount or 0
    deleted["profiles"] = conn.execute(delete(profiles_t).where(profiles_t.c.id == pid)).rowcount or 0
    hashes = sorted({subject_hash(hash_email, kind, value) for kind, value in keys})
    conn.execute(erasure_t.insert(), [{"subject_hash": h, "erased_at": now} for h in hashes])
    return {
        "erased": True,
        "erased_at": iso(now),
        "rows_deleted": deleted,
        "identifiers_logged": len(hashes),
        "had_events": first_event is not None,
        "first_event_received_at": iso(first_event),
    }


def _suppressions_by_email(conn: Connection, email_hash: str) -> list[Any]:
    return list(
        conn.execute(
            select(suppressions_t).where(suppressions_t.c.email_hash == email_hash).order_by(suppressions_t.c.id)
        )
    )


def export_by_email(conn: Connection, email_hash: str, now: datetime) -> dict[str, Any] | None:
    """The export of an address tailor has no profile for: the suppressions kept under its hash.

    (An ESP's report about an unknown recipient normally creates an anonymous profile
    holding the address; what is left without one is a bare suppression, e.g. after an
    erasure or ``add_suppression(email=...)``.) None when nothing is stored for it.
    """
    rows = _suppressions_by_email(conn, email_hash)
    if not rows:
        return None
    return {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "exported_at": iso(now),
        "id": None,
        "suppressions": [
            {"reason": r.reason, "source": r.source, "created_at": iso(r.created_at), "by": "email"} for r in rows
        ],
        "metadata": {
            "profile": False,
            # what is stored is HMAC(per-database key, address), never the address
            "stored_as": "keyed hash of the email address",
        },
    }


def erase_by_email(
    conn: Connection, email_hash: str, hash_email: Callable[[str], str], now: datetime
) -> dict[str, Any] | None:
    """Erasure for an address tailor has no profile for; None when nothing is stored for it.

    There is nothing personal to delete: the suppressions stay, as the bare keyed hash
    they already are, so the address is never emailed again; the erasure is logged.
    """
    rows = _suppressions_by_email(conn, email_hash)
    if not rows:
        return None
    conn.execute(update(Suppression).where(Suppression.email_hash == email_hash).values(profile_id=None))
    conn.execute(
        sql_insert(ErasureLog), [{"subject_hash": subject_hash(hash_email, "email", email_hash), "erased_at": now}]
    )
    return {
        "erased": True,
        "erased_at": iso(now),
        "rows_deleted": {},
        "suppressions_kept": len(rows),
        "identifiers_logged": 1,
        "had_events": False,
        "first_event_received_at": None,
    }


# -- retention ----------------------------------------------------------------


def expired_condition(rules: Sequence[tuple[str, str | None, datetime]]) -> Any:
    """An SQL condition on ``events`` for "older than its retention window".

    ``rules`` are ``(type, event_name or None, cutoff)``; a rule naming an event is
    more specific than its type's rule, and ``("*", None, cutoff)`` is the default.
    """
    named = [(t, e) for t, e, _ in rules if e is not None]
    typed = {t for t, e, _ in rules if e is None and t != "*"}
    parts = []
    for kind, name, cutoff in rules:
        cond: ColumnElement[bool] | None
        if name is not None:
            cond = and_(events_t.c.type == kind, events_t.c.event == name)
        elif kind != "*":
            exclude = [n for t, n in named if t == kind]
            cond = events_t.c.type == kind
            if exclude:
                cond = and_(cond, or_(events_t.c.event.is_(None), not_(events_t.c.event.in_(exclude))))
        else:
            cond = not_(events_t.c.type.in_(sorted(typed))) if typed else None
            named_other = [(t, n) for t, n in named if t not in typed]
            for t, n in named_other:
                extra = not_(and_(events_t.c.type == t, events_t.c.event == n))
                cond = extra if cond is None else and_(cond, extra)
            if cond is None:
                cond = events_t.c.id.isnot(None)
        parts.append(and_(cond, events_t.c.timestamp < cutoff))
    return or_(*parts) if parts else None


def count_expired(conn: Connection, condition: Any) -> dict[str, int]:
    """Expired events per type/name: ``{"track:Product Viewed": n, "page": n}``."""
    query = (
        select(events_t.c.type, events_t.c.event, func.count())
        .where(condition)
        .group_by(events_t.c.type, events_t.c.event)
    )
    result: dict[str, int] = {}
    for kind, name, n in conn.execute(query):
        key = f"{kind}:{name}" if kind == "track" and name else kind
        result[key] = result.get(key, 0) + n
    return dict(sorted(result.items()))


def delete_expired_batch(conn: Connection, condition: Any, limit: int) -> int:
    """Delete up to ``limit`` expired events (the oldest first); how many went."""
    ids = list(conn.execute(select(events_t.c.id).where(condition).order_by(events_t.c.id).limit(limit)).scalars())
    if not ids:
        return 0
    for start in range(0, len(ids), CHUNK):
        conn.execute(delete(events_t).where(events_t.c.id.in_(ids[start : start + CHUNK])))
    return len(ids)


# -- helpers ------------------------------------------------------------------


def _reflect(conn: Connection, name: str) -> Any:
    from sqlalchemy import MetaData, Table

    # reflected, not the models: a column another migration added is still seen
    return Table(name, MetaData(), autoload_with=conn)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in values.items()}
