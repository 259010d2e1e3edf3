"""Store tests use the root conftest's `database_url` / `store` fixtures (SQLite and PostgreSQL)."""
