"""Sends: what personalization chose for each email, for outcome attribution.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sends",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("profile_id", sa.String(255), nullable=False),
        sa.Column("send_key", sa.String(255), nullable=False),
        sa.Column("template", sa.String(255), nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.Column("control", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("blocks", JSONType, nullable=False),
        sa.Column("rules", JSONType, nullable=False),
        sa.Column("segments", JSONType, nullable=False),
        sa.Column("recs", JSONType, nullable=False),
        sa.Column("fallbacks", JSONType, nullable=False),
        sa.UniqueConstraint("profile_id", "send_key", name="uq_sends_send"),
    )
    op.create_index("ix_sends_sent_at", "sends", ["sent_at"])
    op.create_index("ix_sends_profile", "sends", ["profile_id", "sent_at"])


def downgrade() -> None:
    op.drop_table("sends")
