"""Single-use ESP webhook tokens (Mailgun replay protection); ``messageId`` unique per scope.

* ``webhook_tokens``: new table.
* ``events.scope`` (who the message is about: ``user:<userId>``, ``anon:<anonymousId>``,
  ``esp``) and the unique constraint moves from ``message_id`` to ``(message_id, scope)``
  so one sender's id cannot make another's event vanish. Existing rows get the scope
  ``''`` (unknown: their ids were not kept), which the store treats as matching every
  scope — a retry of an event stored before the upgrade is still a duplicate.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NEW = "uq_events_message_scope"
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        "webhook_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("token", sa.String(255), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("provider", "token", name="uq_webhook_tokens"),
    )
    op.create_index("ix_webhook_tokens_expires_at", "webhook_tokens", ["expires_at"])
    scope = sa.Column("scope", sa.String(300), nullable=False, server_default="")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # 0001's UNIQUE(message_id) has no name on SQLite: the convention names it so it can go
        with op.batch_alter_table("events", recreate="always", naming_convention=_NAMES) as batch:
            batch.add_column(scope)
            batch.drop_constraint("uq_events_message_id", type_="unique")
            batch.create_unique_constraint(NEW, ["message_id", "scope"])
    else:
        old = [
            u["name"]
            for u in sa.inspect(bind).get_unique_constraints("events")
            if u["column_names"] == ["message_id"] and u["name"]
        ]
        op.add_column("events", scope)
        for name in old:
            op.drop_constraint(name, "events", type_="unique")
        op.create_unique_constraint(NEW, "events", ["message_id", "scope"])


def downgrade() -> None:
    """Back to one event per ``messageId``: fails if two scopes now share one (delete one first)."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("events", recreate="always") as batch:
            batch.drop_constraint(NEW, type_="unique")
            batch.drop_column("scope")
            batch.create_unique_constraint("uq_events_message_id", ["message_id"])
    else:
        op.drop_constraint(NEW, "events", type_="unique")
        op.drop_column("events", "scope")
        op.create_unique_constraint("events_message_id_key", "events", ["message_id"])
    op.drop_table("webhook_tokens")
