"""Single-use ESP webhook tokens (Mailgun replay protection).

Additive: one new table, nothing existing changes.

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


def downgrade() -> None:
    op.drop_table("webhook_tokens")
