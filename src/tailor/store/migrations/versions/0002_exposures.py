"""Experiment exposures: who saw which variant, once per send.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exposures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("experiment", sa.String(100), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("profile_id", sa.String(255), nullable=False),
        # Braze renders one send several times (HTML, text, retries): one exposure per send
        sa.Column("send_key", sa.String(255), nullable=False),
        sa.Column("template", sa.String(255), nullable=False),
        sa.Column("exposed_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("experiment", "profile_id", "send_key", name="uq_exposures_send"),
    )
    op.create_index("ix_exposures_experiment", "exposures", ["experiment", "variant"])
    op.create_index("ix_exposures_profile", "exposures", ["profile_id"])


def downgrade() -> None:
    op.drop_table("exposures")
