"""Alembic environment: always run programmatically by :func:`tailor.store.schema.migrate`."""

from __future__ import annotations

from alembic import context

from tailor.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
