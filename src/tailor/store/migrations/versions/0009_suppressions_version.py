"""A change counter of the suppressions, bumped by the database on every write to them.

Each serving process keeps every suppression in memory (:mod:`tailor.store.suppressions`)
and compares this counter before answering from it. The database bumps it (triggers),
not the writers: an ESP webhook, an unsubscribe link, an erasure, a merge or a hand-typed
``DELETE`` all count, so no write path can leave a process answering from a stale set.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: the ``store_meta`` key of the counter (also :data:`tailor.store.suppressions.VERSION_KEY`)
KEY = "suppressions_version"
_OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    op.execute(f"INSERT INTO store_meta (key, value) VALUES ('{KEY}', '0')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION tailor_suppressions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE store_meta SET value = (value::bigint + 1)::text WHERE key = '{KEY}';
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER suppressions_changed AFTER INSERT OR UPDATE OR DELETE ON suppressions "
            "FOR EACH STATEMENT EXECUTE FUNCTION tailor_suppressions_changed()"
        )
        return
    for operation in _OPERATIONS:  # SQLite: one trigger per operation, per row
        op.execute(
            f"CREATE TRIGGER suppressions_changed_{operation.lower()} AFTER {operation} ON suppressions "
            f"BEGIN UPDATE store_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = '{KEY}'; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER suppressions_changed ON suppressions")
        op.execute("DROP FUNCTION tailor_suppressions_changed()")
    else:
        for operation in _OPERATIONS:
            op.execute(f"DROP TRIGGER suppressions_changed_{operation.lower()}")
    op.execute(f"DELETE FROM store_meta WHERE key = '{KEY}'")
