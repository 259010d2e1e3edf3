"""An index on ``trigger_state (trigger, fired_at)``: the incremental trigger scan's cooldown read.

Each incremental scan asks, per trigger with a ``cooldown``, which profiles' cooldown ended
since the last scan (firings of that trigger in a time slice). The only index on the table
began with ``profile_id``, so that read walked every firing ever recorded — twice per scan
with the example rules, growing with the store's history instead of with what changed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_trigger_state_trigger_fired", "trigger_state", ["trigger", "fired_at"])


def downgrade() -> None:
    op.drop_index("ix_trigger_state_trigger_fired", table_name="trigger_state")
