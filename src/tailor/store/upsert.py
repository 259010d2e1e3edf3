"""``INSERT … ON CONFLICT`` for SQLite and PostgreSQL (the same semantics on both)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database: {conn.dialect.name}")


def insert_ignore(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: list[str], returning: Column | None = None
) -> list[Any]:
    """Insert ``rows``, skipping those whose ``conflict`` columns already exist; returned values of inserted rows."""
    if not rows:
        return []
    stmt = _insert(conn, table).on_conflict_do_nothing(index_elements=conflict)
    if returning is None:
        conn.execute(stmt, list(rows))
        return []
    return list(conn.execute(stmt.returning(returning), list(rows)).scalars())


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: list[str]) -> None:
    """Insert ``rows`` or overwrite the existing ones with the same ``conflict`` columns."""
    if not rows:
        return
    stmt = _insert(conn, table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in conflict}
    conn.execute(stmt.on_conflict_do_update(index_elements=conflict, set_=updates), list(rows))
