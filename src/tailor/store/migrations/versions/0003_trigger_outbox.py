"""Trigger notifications outbox: claimed → notified state on ``trigger_state``.

A row written by the trigger scan with ``--notify`` carries the notification
``payload``; ``notified_at`` stays empty until the receiver acknowledged it, and
``lease_owner``/``lease_until`` say which scan is delivering it right now.
Rows written by ``Store.record_trigger`` keep ``payload`` empty (fired, nothing to send).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("trigger_state") as batch:
        batch.add_column(sa.Column("payload", JSONType, nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("notified_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(255), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trigger_state") as batch:
        for column in ("last_error", "attempts", "lease_until", "lease_owner", "notified_at", "claimed_at", "payload"):
            batch.drop_column(column)
