"""Writing many events at once: COPY (PostgreSQL) or ``executemany`` (SQLite) straight into
``events``; when a row is already stored, through a staging table and one set-based
``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` instead.

The ORM's multi-row ``INSERT … RETURNING`` spends most of its time in Python (a bound
parameter and a JSON type processor per value) and, on PostgreSQL, sends a statement per
few hundred rows. Here rows go to the driver as plain tuples (JSON encoded once, by
``strict_json.dumps_stored``). The callers have already dropped the stored ``(message_id, scope)`` pairs inside
the serialized write transaction, so the rows normally all insert: they are written
straight into ``events`` under a savepoint. Should one conflict after all
(``uq_events_message_scope``), the savepoint is rolled back and the rows go into a
temporary table of the transaction, from which the database skips the stored ones in one
statement — the same semantics as :func:`tailor.store.upsert.insert_ignore` either way (a
stored ``(message_id, scope)`` is skipped, the ids actually inserted are returned).

Values are written in the form SQLAlchemy itself writes them, so rows read back the same
whichever path stored them: JSON text, and on SQLite naive UTC times as
``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLite compares times as text).

The other rows an ingestion writes in bulk — new profiles and their changes, identities,
consent statements — go the same way (:func:`insert_rows`, :func:`update_rows`): on
SQLite one ``executemany``, on PostgreSQL one statement over ``unnest`` of a typed array
per column, where SQLAlchemy's ``executemany`` spent a bound parameter (and a JSON
encoding by ``json``) per value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Table
from sqlalchemy.exc import IntegrityError

from tailor.strict_json import dumps_stored

#: the events columns a staged row carries, in order
EVENT_COLUMNS = (
    "message_id",
    "scope",
    "profile_id",
    "type",
    "event",
    "properties",
    "context",
    "timestamp",
    "received_at",
)
_STAGE = "tailor_events_stage"


def sqlite_time(value: datetime) -> str:
    """A naive UTC time as SQLAlchemy's SQLite ``DateTime`` stores it (always six fractional digits)."""
    text = value.isoformat(" ")  # half the cost of the timespec= form, which leaves out a zero fraction
    return text if value.microsecond else text + ".000000"


def _tuples(rows: Sequence[dict[str, Any]], sqlite: bool) -> list[tuple[Any, ...]]:
    """Rows as driver tuples in :data:`EVENT_COLUMNS` order (one tight loop: it runs per event)."""
    dumps = dumps_stored
    #: SQLite text of each time seen: a file's rows share one receive time
    texts: dict[datetime, str] = {}
    out = []
    for row in rows:
        timestamp, received_at = row["timestamp"], row["received_at"]
        if sqlite:
            timestamp = sqlite_time(timestamp)
            received_at = texts.get(received_at) or texts.setdefault(received_at, sqlite_time(received_at))
        properties, context = row["properties"], row["context"]
        out.append(
            (
                row["message_id"],
                row["scope"],
                row["profile_id"],
                row["type"],
                row["event"],
                dumps(properties if properties is not None else {}),
                dumps(context if context is not None else {}),
                timestamp,
                received_at,
            )
        )
    return out


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert event rows (dicts of :data:`EVENT_COLUMNS`), skipping stored ``(message_id, scope)``;
    the message ids actually inserted. Runs in ``conn``'s transaction."""
    if not rows:
        return set()
    sqlite = conn.dialect.name != "postgresql"
    values = _tuples(rows, sqlite)
    try:
        with conn.begin_nested():
            _write(conn, "events", values, sqlite)
    except Exception as exc:  # the driver's own error types: psycopg is an optional dependency
        if not _is_conflict(exc):
            raise
        return _insert_skipping_stored(conn, values, sqlite)  # a row is stored already (module docstring)
    return {row[0] for row in values}


def _is_conflict(exc: Exception) -> bool:
    """A unique (or other integrity) violation: SQLite's, PostgreSQL's (SQLSTATE 23505) or SQLAlchemy's."""
    return isinstance(exc, (IntegrityError, sqlite3.IntegrityError)) or getattr(exc, "sqlstate", None) == "23505"


def _write(conn: Connection, table: str, values: list[tuple[Any, ...]], sqlite: bool) -> None:
    """``values`` into ``table`` (events, or the staging table of the same columns) through the driver."""
    columns = ", ".join(EVENT_COLUMNS)
    driver = conn.connection.driver_connection
    assert driver is not None
    if sqlite:
        placeholders = ", ".join("?" for _ in EVENT_COLUMNS)
        driver.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", values)
        return
    with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)


def _insert_skipping_stored(conn: Connection, values: list[tuple[Any, ...]], sqlite: bool) -> set[str]:
    columns = ", ".join(EVENT_COLUMNS)
    if not sqlite:
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
            "(message_id text, scope text, profile_id text, type text, event text, properties jsonb, "
            "context jsonb, timestamp timestamp, received_at timestamp) ON COMMIT DELETE ROWS"
        )
        _write(conn, _STAGE, values, sqlite)
        inserted = conn.exec_driver_sql(
            f"INSERT INTO events ({columns}) SELECT {columns} FROM {_STAGE} "
            "ON CONFLICT (message_id, scope) DO NOTHING RETURNING message_id"
        ).scalars()
        found = set(inserted)
        conn.exec_driver_sql(f"TRUNCATE {_STAGE}")
        return found
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
        "(message_id, scope, profile_id, type, event, properties, context, timestamp, received_at)"
    )
    _write(conn, _STAGE, values, sqlite)
    # "WHERE true": SQLite's grammar needs it to read ON CONFLICT after a SELECT
    found = set(
        conn.exec_driver_sql(
            f"INSERT INTO events ({columns}) SELECT {columns} FROM {_STAGE} WHERE true "
            "ON CONFLICT (message_id, scope) DO NOTHING RETURNING message_id"
        ).scalars()
    )
    conn.exec_driver_sql(f"DELETE FROM {_STAGE}")
    return found


def insert_rows(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], conflict: Sequence[str] | None = None
) -> None:
    """Insert ``rows`` (dicts of column values, all with the same keys) into ``table`` through the
    driver; with ``conflict``, rows whose ``conflict`` columns are stored already are skipped
    (``ON CONFLICT DO NOTHING``, as :func:`tailor.store.upsert.insert_ignore`)."""
    if not rows:
        return
    columns = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    name, names = quote(table.name), ", ".join(quote(c) for c in columns)
    skip = f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING" if conflict else ""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"INSERT INTO {name} ({names}) SELECT * FROM unnest({_pg_arrays(conn, table, columns)}){skip}",
            tuple(_column_values(conn, table, columns, rows)),
        )
        return
    placeholders = ", ".join("?" for _ in columns)
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.executemany(
        f"INSERT INTO {name} ({names}) VALUES ({placeholders}){skip}", _driver_tuples(conn, table, columns, rows)
    )


def update_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str) -> None:
    """Set the other columns of ``rows`` (dicts, all with the same keys) on the row of ``table`` whose
    ``key`` column equals theirs: one ``UPDATE`` per row on SQLite (``executemany``), one in all on
    PostgreSQL."""
    if not rows:
        return
    columns = list(rows[0])
    changed = [c for c in columns if c != key]
    quote = conn.dialect.identifier_preparer.quote
    name = quote(table.name)
    if conn.dialect.name == "postgresql":
        assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in changed)
        conn.exec_driver_sql(
            f"UPDATE {name} SET {assignments} FROM unnest({_pg_arrays(conn, table, columns)}) "
            f"AS v({', '.join(quote(c) for c in columns)}) WHERE {name}.{quote(key)} = v.{quote(key)}",
            tuple(_column_values(conn, table, columns, rows)),
        )
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.executemany(
        f"UPDATE {name} SET {', '.join(f'{quote(c)} = ?' for c in changed)} WHERE {quote(key)} = ?",
        _driver_tuples(conn, table, [*changed, key], rows),
    )


def _pg_arrays(conn: Connection, table: Table, columns: Sequence[str]) -> str:
    """One typed array parameter per column (``%b::VARCHAR(255)[]``, ``%b::JSONB[]``, …), sent in
    binary: psycopg's text form of an array escapes every element with a regex (JSON is all quotes),
    seven times the CPU of the binary form."""
    return ", ".join(f"%b::{table.c[c].type.compile(dialect=conn.dialect)}[]" for c in columns)


def _converters(conn: Connection, table: Table, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    """Per column, what turns a value into the driver's form (None: as it is)."""
    sqlite = conn.dialect.name != "postgresql"
    out: list[Callable[[Any], Any] | None] = []
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, JSON):
            out.append(dumps_stored)  # None too: SQLAlchemy writes JSON null for it
        elif sqlite and isinstance(kind, DateTime):
            out.append(lambda value: None if value is None else sqlite_time(value))
        else:
            out.append(None)
    return out


def _driver_tuples(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    converters = list(zip(columns, _converters(conn, table, columns), strict=True))
    return [tuple(row[c] if convert is None else convert(row[c]) for c, convert in converters) for row in rows]


def _column_values(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[list[Any]]:
    """The values of ``rows`` column by column (PostgreSQL's ``unnest`` arrays)."""
    out = []
    for name, convert in zip(columns, _converters(conn, table, columns), strict=True):
        values = [row[name] for row in rows]
        out.append(values if convert is None else [convert(v) for v in values])
    return out
