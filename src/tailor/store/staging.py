"""Writing many events at once: COPY (PostgreSQL) or ``executemany`` (SQLite) into a staging
table, then one set-based ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING``.

The ORM's multi-row ``INSERT … RETURNING`` spends most of its time in Python (a bound
parameter and a JSON type processor per value) and, on PostgreSQL, sends a statement per
few hundred rows. Here rows go to the driver as plain tuples (JSON encoded once, with
orjson) into a temporary table of the transaction, and the database does the
de-duplication against ``uq_events_message_scope`` in one statement — the same semantics
as :func:`tailor.store.upsert.insert_ignore` (a stored ``(message_id, scope)`` is skipped,
the ids actually inserted are returned).

Values are written in the form SQLAlchemy itself writes them, so rows read back the same
whichever path stored them: JSON text, and on SQLite naive UTC times as
``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLite compares times as text).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

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
_JSON = {"properties", "context"}
_TIME = {"timestamp", "received_at"}
_STAGE = "tailor_events_stage"


def sqlite_time(value: datetime) -> str:
    """A naive UTC time as SQLAlchemy's SQLite ``DateTime`` stores it."""
    return value.isoformat(sep=" ", timespec="microseconds")


def _json(value: Any) -> str:
    # orjson refuses what tailor never stores (NaN, huge ints: strict_json refused them already)
    return orjson.dumps(value if value is not None else {}).decode()


def _tuples(rows: Sequence[dict[str, Any]], sqlite: bool) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        values = []
        for column in EVENT_COLUMNS:
            value = row[column]
            if column in _JSON:
                value = _json(value)
            elif column in _TIME and sqlite:
                value = sqlite_time(value)
            values.append(value)
        out.append(tuple(values))
    return out


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert event rows (dicts of :data:`EVENT_COLUMNS`), skipping stored ``(message_id, scope)``;
    the message ids actually inserted. Runs in ``conn``'s transaction."""
    if not rows:
        return set()
    columns = ", ".join(EVENT_COLUMNS)
    driver = conn.connection.driver_connection
    assert driver is not None
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
            "(message_id text, scope text, profile_id text, type text, event text, properties jsonb, "
            "context jsonb, timestamp timestamp, received_at timestamp) ON COMMIT DELETE ROWS"
        )
        with driver.cursor() as cursor, cursor.copy(f"COPY {_STAGE} ({columns}) FROM STDIN") as copy:
            for values in _tuples(rows, sqlite=False):
                copy.write_row(values)
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
    placeholders = ", ".join("?" for _ in EVENT_COLUMNS)
    driver.executemany(f"INSERT INTO {_STAGE} ({columns}) VALUES ({placeholders})", _tuples(rows, sqlite=True))
    # "WHERE true": SQLite's grammar needs it to read ON CONFLICT after a SELECT
    found = set(
        conn.exec_driver_sql(
            f"INSERT INTO events ({columns}) SELECT {columns} FROM {_STAGE} WHERE true "
            "ON CONFLICT (message_id, scope) DO NOTHING RETURNING message_id"
        ).scalars()
    )
    conn.exec_driver_sql(f"DELETE FROM {_STAGE}")
    return found
