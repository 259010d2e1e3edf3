"""Migrations create exactly the models' schema; SQLite runs in WAL mode with foreign keys."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tailor.store import Store
from tailor.store.models import Base


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    from alembic.script import ScriptDirectory

    from tailor.store.schema import alembic_config

    head = ScriptDirectory.from_config(alembic_config(store.engine)).get_current_head()  # one head: a linear history
    assert store.revision() == head


def test_migrate_is_repeatable_and_reversible(store: Store) -> None:
    store.ingest([{"type": "track", "event": "x", "userId": "u", "messageId": "m"}])
    store.migrate()  # already at head: nothing happens, nothing is lost
    assert store.load_profile(id="u")["events"][0]["messageId"] == "m"
    from alembic import command

    from tailor.store.schema import alembic_config

    config = alembic_config(store.engine)
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert "profiles" not in inspect(store.engine).get_table_names()
    store.migrate()
    assert {"profiles", "identities", "events", "products", "trigger_state", "suppressions"} <= set(
        inspect(store.engine).get_table_names()
    )


def test_indexes_for_send_time_lookups(store: Store) -> None:
    inspector = inspect(store.engine)
    assert any(ix["column_names"] == ["profile_id", "timestamp"] for ix in inspector.get_indexes("events"))
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("identities")}
    assert ("kind", "value") in uniques


def test_sqlite_pragmas(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    store.close()


def test_0005_keeps_events_stored_before_it_deduplicated(store: Store) -> None:
    """An event stored under 0004 (unique messageId, no scope) upgrades to scope '': its retry is a duplicate."""
    from alembic import command

    from tailor.store.schema import alembic_config

    config = alembic_config(store.engine)
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    assert "scope" not in {c["name"] for c in inspect(store.engine).get_columns("events")}
    with store.engine.begin() as conn:  # what the code before 0005 wrote
        conn.execute(
            text(
                "INSERT INTO profiles (id, traits, consents, stamps, created_at, updated_at)"
                " VALUES ('u', '{}', '{}', '{}', '2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO identities (kind, value, profile_id, created_at)"
                " VALUES ('user_id', 'u', 'u', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO events (message_id, profile_id, type, event, properties, context, timestamp, received_at)"
                " VALUES ('m', 'u', 'track', 'x', '{}', '{}', '2026-01-01', '2026-01-01')"
            )
        )
    store.migrate()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT scope FROM events")).scalars().all() == [""]
    assert store.ingest([{"type": "track", "event": "x", "userId": "u", "messageId": "m"}]).duplicates == 1
    store.ingest([{"type": "track", "event": "x", "userId": "other", "messageId": "m2"}])
    store.ingest([{"type": "track", "event": "x", "userId": "u", "messageId": "m2"}])
    uniques = {tuple(u["column_names"]) for u in inspect(store.engine).get_unique_constraints("events")}
    assert ("message_id", "scope") in uniques and ("message_id",) not in uniques
