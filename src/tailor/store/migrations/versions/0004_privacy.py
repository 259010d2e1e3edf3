"""Privacy: consent history, erasure log (keyed hashes only), per-day privacy counters.

Additive: three new tables, nothing existing changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("profile_id", sa.String(255), sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255)),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("given_at", sa.DateTime, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("message_id", "purpose", name="uq_consent_events_message"),
    )
    op.create_index("ix_consent_events_profile", "consent_events", ["profile_id", "given_at"])
    op.create_table(
        "erasure_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject_hash", sa.String(64), nullable=False),
        sa.Column("erased_at", sa.DateTime, nullable=False),
        sa.Column("returned_at", sa.DateTime),
        sa.Column("returned_profile_id", sa.String(255), sa.ForeignKey("profiles.id", ondelete="SET NULL")),
    )
    op.create_index("ix_erasure_log_subject_hash", "erasure_log", ["subject_hash"])
    op.create_index("ix_erasure_log_returned_profile_id", "erasure_log", ["returned_profile_id"])
    op.create_table(
        "privacy_counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("privacy_counters", "erasure_log", "consent_events"):
        op.drop_table(table)
