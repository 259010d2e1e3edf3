"""Message builders, direct-SQL scans and a live server for the privacy tests."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from werkzeug.serving import make_server

from segment_messages import identify, track  # noqa: F401 - re-exported for the tests here
from tailor.store import Store

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def all_tables(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(t for t in inspect(conn).get_table_names() if t != "alembic_version")


def rows_mentioning(store: Store, needles: list[str], *, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(table, needle) for every row of every table whose text contains a needle (direct SQL)."""
    found = []
    with store.engine.connect() as conn:
        for table in all_tables(store):
            if table in skip:
                continue
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                blob = " ".join(str(v) for v in row)
                found += [(table, n) for n in needles if n and n in blob]
    return sorted(set(found))


def rows_for_profile(store: Store, profile_id: str) -> dict[str, int]:
    """Rows per table whose ``profile_id`` (or ``id`` for profiles) is the person's — by direct SQL."""
    counts: dict[str, int] = {}
    with store.engine.connect() as conn:
        inspector = inspect(conn)
        for table in all_tables(store):
            columns = {c["name"] for c in inspector.get_columns(table)}
            column = "id" if table == "profiles" else "profile_id" if "profile_id" in columns else None
            if column is None:
                continue
            counts[table] = conn.execute(
                text(f'SELECT COUNT(*) FROM "{table}" WHERE "{column}" = :pid'), {"pid": profile_id}
            ).scalar_one()
    return counts


class LiveServer:
    """A real HTTP server (Werkzeug, in a thread, on a free loopback port) around a Flask app."""

    def __init__(self, app, host: str = "127.0.0.1"):
        self.server = make_server(host, 0, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def app_with_profiles(settings):
    """``create_app`` with the profiles blueprint (registered here if the app does not yet)."""
    from tailor.web.app import create_app
    from tailor.web.profiles import create_profiles_blueprint

    app = create_app(settings)
    if "profiles" not in app.blueprints:
        store = app.extensions["tailor"].store
        app.register_blueprint(create_profiles_blueprint(store, settings))
    return app
