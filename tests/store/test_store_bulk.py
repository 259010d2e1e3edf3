"""Bulk ingestion (``tailor ingest`` of JSONL, CSV, Parquet): the same store as message-by-message
ingestion, nothing written by a bad file, and exactly once after kill -9 and a re-run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from segment_messages import identify, track
from tailor.problems import ProblemError
from tailor.store import Store

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["type", "messageId", "timestamp", "userId", "anonymousId", "previousId", "event", "name"]
COLUMNS += ["properties", "traits", "context"]


def messages() -> list[dict[str, Any]]:
    """Merges, aliases, last-write-wins, consents, retries and a shared messageId."""
    alias = {"type": "alias", "messageId": "al-1", "userId": "u-3", "previousId": "a-3"}
    alias["timestamp"] = "2026-11-20T12:00:00Z"
    return [
        identify("id-1", user="u-1", ts="2026-11-20T09:00:00Z", email="Ann@Example.com", city="Lyon"),
        track("t-1", user="u-1", ts="2026-11-20T09:05:00Z", product_id="sku-1"),
        track("t-1", user="u-1", ts="2026-11-20T09:05:00Z", product_id="sku-1"),  # a retry
        track("t-2", "Page", user=None, anon="a-1", ts="2026-11-19T08:00:00Z", kind="page"),
        track("t-3", "Product Added", user=None, anon="a-1", ts="2026-11-19T08:01:00Z", product_id="sku-2"),
        identify("id-2", user="u-2", anon="a-1", ts="2026-11-20T10:00:00Z", email="bo@example.com", city="Paris"),
        identify("id-3", user="u-1", ts="2026-11-18T10:00:00Z", city="Old town"),  # older: loses
        identify("id-4", user="u-1", ts="2026-11-21T10:00:00Z", city="Berlin", consent_tracking=True),
        track("t-4", user=None, anon="a-3", ts="2026-11-19T07:00:00Z", product_id="sku-3"),
        alias,
        track("t-5", user="u-3", ts="2026-11-21T07:00:00Z", product_id="sku-4"),
        track("t-1", user="u-3", ts="2026-11-21T07:30:00Z", product_id="sku-9"),  # another person's id
        identify("id-5", user="u-4", ts="2026-11-19T00:00:00Z", consent_tracking=False),
        track("t-6", user="u-4", ts="2026-11-20T00:00:00Z", product_id="sku-5"),  # dropped: no tracking
        identify("id-6", user="u-5", ts="2026-11-20T00:00:00Z", email="ann@example.com"),  # Ann's email again
    ]


def snapshot(store: Store) -> dict[str, list[Any]]:
    """The store's contents, without the times of ingestion (``received_at``, ``updated_at``)."""
    queries = {
        "profiles": "SELECT id, email, traits, consents, stamps, locale, timezone, created_at FROM profiles",
        "identities": "SELECT kind, value, profile_id FROM identities",
        "events": "SELECT message_id, scope, profile_id, type, event, properties, context, timestamp FROM events",
        "consents": "SELECT profile_id, purpose, granted, source, subject, message_id, given_at FROM consent_events",
    }
    out: dict[str, list[Any]] = {}
    with store.engine.connect() as conn:
        for name, sql in queries.items():
            rows = []
            for row in conn.execute(text(sql)):
                values = [json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v for v in row]
                rows.append(json.dumps(values, sort_keys=True, default=str))
            out[name] = sorted(rows)
    return out


@pytest.fixture
def keyed(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def twin(keyed: Store, database_url: str, tmp_path: Path) -> Iterator[Store]:
    """A second empty store of the same dialect, hashing emails with ``keyed``'s key (identities compare)."""
    key = keyed._stored_key()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'twin.db'}", email_key=key)
        store.migrate()
        yield store
        store.close()
        return
    base = database_url.split("?")[0]
    schema = f"tailor_twin_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = Store(f"{base}?options=-csearch_path%3D{schema}", email_key=key)
    try:
        store.migrate()
        yield store
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def write(path: Path, items: list[dict[str, Any]]) -> Path:
    """``items`` as JSONL, or as the flat CSV/Parquet columns (objects as JSON text)."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(m) + "\n" for m in items), encoding="utf-8")
        return path
    rows = [
        {c: (json.dumps(m[c]) if c in ("properties", "traits", "context") and c in m else m.get(c)) for c in COLUMNS}
        for m in items
    ]
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        pq.write_table(pa.Table.from_pylist(rows, pa.schema([(c, pa.string()) for c in COLUMNS])), path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_bulk_stores_what_message_by_message_ingestion_stores(
    keyed: Store, twin: Store, tmp_path: Path, suffix: str
) -> None:
    for message in messages():  # what POST /v1/track|identify|alias does, one message each
        keyed.ingest_message(message)
    result = twin.ingest_bulk(write(tmp_path / f"events{suffix}", messages()), chunk_size=4)
    expected = snapshot(keyed)
    assert len(expected["events"]) == 13 and len(expected["profiles"]) == 4  # the merges happened
    assert snapshot(twin) == expected
    assert result.accepted == 13 and result.dropped_no_consent == 1


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_integers_beyond_64_bits_are_stored_exactly_by_both_paths(
    keyed: Store, twin: Store, tmp_path: Path, suffix: str
) -> None:
    """strict_json accepts any integer; the fast encoder (orjson) holds 64 bits: the write must not fail."""
    huge = track("t-huge", user="u-1", order_number=2**70, lines=[{"sku": -(2**65), "n": 1}])
    keyed.ingest_message(huge)
    twin.ingest_bulk(write(tmp_path / f"events{suffix}", [huge]))
    assert snapshot(twin) == snapshot(keyed)
    for store in (keyed, twin):
        with store.engine.connect() as conn:
            (properties,) = conn.execute(text("SELECT properties FROM events")).one()
        stored = properties if isinstance(properties, dict) else json.loads(properties)
        assert stored["order_number"] == 2**70 and stored["lines"][0]["sku"] == -(2**65)


def test_profiles_written_through_the_driver_read_back_exactly(keyed: Store, tmp_path: Path) -> None:
    """New profiles, their later changes, identities and consent statements are written as driver
    rows (``staging.insert_rows``/``update_rows``), JSON encoded by ``dumps_stored``: integers
    beyond 64 bits, quotes, backslashes and non-ASCII text must come back as they went in."""
    odd = 'say "hi" \\ back, {"not": "json"} – Ünïcode ✓'
    first = identify("id-1", user="u-1", ts="2026-11-20T09:00:00Z", email="ann@example.com", loyalty=2**70, note=odd)
    first["traits"]["consent_tracking"] = True
    later = identify("id-2", user="u-1", ts="2026-11-21T09:00:00Z", points=-(2**65), nested={"deep": [2**64, odd]})
    later["traits"]["consent_email_marketing"] = False
    # one record per chunk: the second identify updates the profile the first chunk inserted
    keyed.ingest_bulk(write(tmp_path / "events.jsonl", [first, track("t-1", user="u-1"), later]), chunk_size=1)
    with keyed.engine.connect() as conn:
        (traits, consents, stamps) = conn.execute(text("SELECT traits, consents, stamps FROM profiles")).one()
        identities = sorted(conn.execute(text("SELECT kind, profile_id FROM identities")).all())
        statements = sorted(conn.execute(text("SELECT purpose, granted, message_id FROM consent_events")).all())
    traits, consents, stamps = (v if isinstance(v, dict) else json.loads(v) for v in (traits, consents, stamps))
    assert traits == {"loyalty": 2**70, "note": odd, "points": -(2**65), "nested": {"deep": [2**64, odd]}}
    assert consents == {"tracking": True, "email_marketing": False}
    assert stamps["traits"]["points"][1] == "id-2"
    assert identities == [("email", "u-1"), ("user_id", "u-1")]
    assert statements == [("email_marketing", False, "id-2"), ("tracking", True, "id-1")]


def test_insert_rows_skips_stored_conflicts_and_keeps_the_first(keyed: Store) -> None:
    """``ON CONFLICT DO NOTHING`` through the driver: a stored key and a key twice in one call."""
    from tailor.store import staging
    from tailor.store.models import Identity, Profile
    from tailor.store.times import utcnow

    now = utcnow()
    profile = {"id": "u-1", "email": None, "traits": {}, "consents": {}, "stamps": {}}
    profile |= {"locale": None, "timezone": None, "created_at": now, "updated_at": now}

    def identity(value: str, pid: str) -> dict[str, Any]:
        return {"kind": "user_id", "value": value, "profile_id": pid, "created_at": now}

    with keyed.engine.begin() as conn:
        staging.insert_rows(conn, Profile.__table__, [profile, {**profile, "id": "u-2"}])
        staging.insert_rows(conn, Identity.__table__, [identity("a", "u-1")], conflict=["kind", "value"])
        rows = [identity("a", "u-2"), identity("b", "u-1"), identity("b", "u-2")]
        staging.insert_rows(conn, Identity.__table__, rows, conflict=["kind", "value"])
    with keyed.engine.connect() as conn:
        stored = sorted(conn.execute(text("SELECT value, profile_id FROM identities")).all())
    assert stored == [("a", "u-1"), ("b", "u-1")]


def test_the_bulk_page_cache_is_given_back_to_pooled_connections(tmp_path: Path) -> None:
    """SQLite: a chunk is applied with a large page cache; the pooled connection gets its own size back."""
    store = Store(f"sqlite:///{tmp_path / 'bulk.db'}")  # a SQLite connection setting: SQLite only
    store.migrate()
    try:
        with store.engine.connect() as conn:
            default = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        store.ingest_bulk(write(tmp_path / "events.jsonl", messages()), chunk_size=4)
        pool = store.engine.pool
        checked_out = [pool.connect() for _ in range(pool.checkedin() or 1)]  # every pooled connection
        try:
            caches = [c.driver_connection.execute("PRAGMA cache_size").fetchone()[0] for c in checked_out]
            assert caches == [default] * len(checked_out)
        finally:
            for c in checked_out:
                c.close()
    finally:
        store.close()


def test_bulk_again_changes_nothing(keyed: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "events.jsonl", messages())
    keyed.ingest_bulk(path)
    before = snapshot(keyed)
    again = keyed.ingest_bulk(path)
    assert again.accepted == 0 and snapshot(keyed) == before


@pytest.mark.parametrize(
    ("suffix", "line"),
    [(".jsonl", 3), (".csv", 4), (".parquet", 3)],  # the CSV header is line 1; Parquet counts rows
)
def test_a_bad_message_anywhere_writes_nothing(keyed: Store, tmp_path: Path, suffix: str, line: int) -> None:
    items = [track(f"m{i}", user=f"u-{i}") for i in range(5)]
    items[2]["timestamp"] = "yesterday"
    path = write(tmp_path / f"events{suffix}", items)
    with pytest.raises(ProblemError) as raised:
        keyed.ingest_bulk(path, chunk_size=1)
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:{line}:1: /timestamp: must be an ISO 8601 time, got 'yesterday'"
    ]
    with keyed.engine.connect() as conn:
        counts = [conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in ("events", "ingest_staged")]
    assert counts == [0, 0]


def test_bad_json_in_a_csv_object_column_names_the_line(keyed: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text('type,messageId,userId,event,properties\ntrack,m1,u-1,Viewed,"{""a"": 1"\n', encoding="utf-8")
    with pytest.raises(ProblemError) as raised:
        keyed.ingest_bulk(path)
    assert str(raised.value.problems[0]).startswith(f"{path}:2:1: properties: invalid JSON")


def _shop(tmp_path: Path, events: int) -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_shop.py"), "--profiles", "300", "--events", str(events)]
        + ["--out", str(tmp_path / "shop"), "--no-profiles-csv"],
        check=True,
        capture_output=True,
    )
    return tmp_path / "shop" / "events.jsonl"


def test_kill_9_mid_ingest_then_rerun_stores_each_event_once(keyed: Store, twin: Store, tmp_path: Path) -> None:
    path = _shop(tmp_path, 12_000)
    twin.ingest_bulk(path, chunk_size=500)  # the reference: one uninterrupted run, the same chunks
    command = [sys.executable, "-c", "from tailor.cli import main; main()", "ingest"]
    command += ["--database-url", keyed.database_url]
    command += ["--chunk-size", "500", "--no-progress", str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    applied = 0
    deadline = time.monotonic() + 240  # generous: the machine may be busy
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with keyed.engine.connect() as conn:
                applied = conn.execute(text("SELECT COALESCE(MAX(applied), 0) FROM ingest_runs")).scalar_one()
            if applied >= 1000:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with keyed.engine.connect() as conn:
        stored = conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
        done = conn.execute(text("SELECT applied, total FROM ingest_runs")).one()
    assert 0 < done.applied < done.total, "killed before or after storing: no crash mid-ingest was tested"
    assert stored < len(snapshot(twin)["events"])
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert snapshot(keyed) == snapshot(twin)
    with keyed.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM ingest_staged")).scalar_one() == 0
