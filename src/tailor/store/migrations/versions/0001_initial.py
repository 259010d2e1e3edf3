"""Initial schema: profiles, identities, events, products, trigger state, suppressions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("traits", JSONType, nullable=False),
        sa.Column("consents", JSONType, nullable=False),
        sa.Column("stamps", JSONType, nullable=False),
        sa.Column("locale", sa.String(35)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("profile_id", sa.String(255), sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("kind", "value", name="uq_identities_kind_value"),
    )
    op.create_index("ix_identities_profile_id", "identities", ["profile_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("profile_id", sa.String(255), sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("event", sa.String(255)),
        sa.Column("properties", JSONType, nullable=False),
        sa.Column("context", JSONType, nullable=False),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_events_profile_timestamp", "events", ["profile_id", "timestamp"])
    op.create_index("ix_events_timestamp", "events", ["timestamp"])
    op.create_table(
        "products",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("category", sa.String(255)),
        sa.Column("brand", sa.String(255)),
        sa.Column("price", sa.Float),
        sa.Column("currency", sa.String(3)),
        sa.Column("stock", sa.Integer, nullable=False),
        sa.Column("image_url", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("tags", JSONType, nullable=False),
        sa.Column("created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_products_category", "products", ["category"])
    op.create_table(
        "trigger_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("profile_id", sa.String(255), sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("trigger", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fired_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("profile_id", "trigger", "key", name="uq_trigger_state"),
    )
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("profile_id", sa.String(255), sa.ForeignKey("profiles.id", ondelete="SET NULL")),
        sa.Column("email_hash", sa.String(64)),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_suppressions_profile_id", "suppressions", ["profile_id"])
    op.create_index("ix_suppressions_email_hash", "suppressions", ["email_hash"])
    meta = op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    # the email-hash key is random per database: hashes cannot be matched across installs
    op.bulk_insert(meta, [{"key": "email_hash_key", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    for table in ("store_meta", "suppressions", "trigger_state", "products", "events", "identities", "profiles"):
        op.drop_table(table)
