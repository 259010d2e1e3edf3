"""Resumable bulk ingestion and the incremental trigger scan's cursor.

* ``ingest_runs``: one row per file being bulk-ingested (by content digest): how many
  records it holds and how many are applied — a re-run after a crash resumes there.
* ``ingest_staged``: the validated records of a run not yet applied (deleted when done).
* ``trigger_scan_cursors``: what the last trigger scan looked at (the last event id, its
  time, the due recipients it reported), so the next scan reads only what changed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_runs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("applied", sa.Integer, nullable=False),
        sa.Column("staged", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "ingest_staged",
        sa.Column("run", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "trigger_scan_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("specs_digest", sa.String(64), nullable=False),
        sa.Column("last_event_id", sa.Integer, nullable=False),
        sa.Column("scanned_at", sa.DateTime, nullable=False),
        sa.Column("due", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trigger_scan_cursors")
    op.drop_table("ingest_staged")
    op.drop_table("ingest_runs")
