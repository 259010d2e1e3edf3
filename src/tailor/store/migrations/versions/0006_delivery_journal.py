"""The delivery journal (``tailor … --deliver smtp://…``, the frequency cap, one-click unsubscribe).

Additive: one new table, ``deliveries`` (see :class:`tailor.store.models.Delivery`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("send_id", sa.String(255), nullable=False),
        sa.Column("profile_id", sa.String(255), nullable=True),
        sa.Column("email_hash", sa.String(64), nullable=True),
        sa.Column("template", sa.String(255), nullable=False, server_default=""),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("marketing", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("lease_until", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("counted_at", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("send_id", name="uq_deliveries_send_id"),
    )
    op.create_index("ix_deliveries_profile_counted", "deliveries", ["profile_id", "counted_at"])
    op.create_index("ix_deliveries_email_counted", "deliveries", ["email_hash", "counted_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_email_counted", "deliveries")
    op.drop_index("ix_deliveries_profile_counted", "deliveries")
    op.drop_table("deliveries")
