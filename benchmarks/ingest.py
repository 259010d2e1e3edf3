"""Ingestion throughput and send-time profile resolution, on SQLite and PostgreSQL.

1. **Ingestion**: Segment ``track`` events through ``POST /v1/batch`` over real HTTP
   (the ingest blueprint in a threaded Werkzeug server on loopback, in this process;
   ``--clients`` concurrent clients, each with its own keep-alive session), batches of
   ``--batch-sizes`` events, into an empty store. Every batch is one committed
   transaction before its 200, as in production. Reports events/s (wall clock, all
   clients together).
2. **Profile resolution**: a store filled with ``--profiles`` profiles (user id + email
   identities) and ``--events`` events by bulk inserts (SQLAlchemy core on SQLite, COPY
   on PostgreSQL), then ``Store.load_profile(id=...)`` and ``load_profile(email=...)``
   for random recipients: p50/p99 latency (the profile document with its latest 500
   events, oldest first — what a render loads).

    python benchmarks/ingest.py              # 100,000 profiles, 2,000,000 events (a few minutes)
    python benchmarks/ingest.py --small      # 10,000 profiles, 200,000 events, fewer batches
    python benchmarks/ingest.py --only sqlite

PostgreSQL: ``$TAILOR_BENCH_PG_URL`` (default: postgresql+psycopg://postgres@127.0.0.1:5432/test,
then user root); a temporary schema is created and dropped. Skipped when unreachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from sqlalchemy import create_engine, insert, text
from werkzeug.serving import make_server

from tailor.config import Settings
from tailor.store import Store
from tailor.store.models import Identity, Profile
from tailor.web.ingest import create_ingest_blueprint

WRITE_KEY = "bench-write-key"
EVENT_NAMES = ["Product Viewed"] * 6 + ["Product Added"] * 2 + ["Checkout Started", "Order Completed"]
START = datetime(2026, 9, 1)


# -- databases -----------------------------------------------------------------


class Database:
    """A fresh database of one dialect, dropped on close."""

    def __init__(self, dialect: str, workdir: Path):
        self.dialect = dialect
        self._admin = None
        self._schema = None
        if dialect == "sqlite":
            self.url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
            return
        base = _postgres_base()
        if base is None:
            raise RuntimeError("PostgreSQL not reachable")
        self._schema = f"tailor_bench_{uuid.uuid4().hex[:10]}"
        self._admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self._schema}"'))
        self.url = f"{base}?options=-csearch_path%3D{self._schema}"

    def close(self) -> None:
        if self._admin is not None:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self._schema}" CASCADE'))
            self._admin.dispose()


def _postgres_base() -> str | None:
    candidates = (
        [os.environ["TAILOR_BENCH_PG_URL"]]
        if os.environ.get("TAILOR_BENCH_PG_URL")
        else ["postgresql+psycopg://postgres@127.0.0.1:5432/test", "postgresql+psycopg://root@127.0.0.1:5432/test"]
    )
    for url in candidates:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except Exception:  # unreachable as this user: try the next
            continue
        finally:
            engine.dispose()
    return None


# -- 1. ingestion through /v1/batch --------------------------------------------


def _serve(store: Store) -> tuple[str, Any, threading.Thread]:
    app = Flask("bench-ingest")
    app.register_blueprint(create_ingest_blueprint(store, Settings().with_values(write_keys=[WRITE_KEY])))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", server, thread


def _batches(n_events: int, batch_size: int, users: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for start in range(0, n_events, batch_size):
        batch = []
        for i in range(start, min(start + batch_size, n_events)):
            when = START + timedelta(seconds=rng.randrange(60 * 86400))
            batch.append(
                {
                    "type": "track",
                    "userId": f"u-{rng.randrange(users):06d}",
                    "event": rng.choice(EVENT_NAMES),
                    "messageId": f"b{seed}-{i}",
                    "timestamp": when.isoformat() + "Z",
                    "properties": {
                        "product_id": f"sku-{rng.randrange(500)}",
                        "price": round(rng.uniform(5, 300), 2),
                        "quantity": 1,
                        "currency": "EUR",
                    },
                    "context": {"library": {"name": "analytics-python", "version": "2.3.3"}},
                }
            )
        bodies.append(json.dumps({"batch": batch, "writeKey": WRITE_KEY}).encode())
    return bodies


def bench_ingest(dialect: str, workdir: Path, n_events: int, batch_size: int, clients: int) -> dict[str, Any]:
    db = Database(dialect, workdir)
    store = Store(db.url)
    try:
        store.migrate()
        bodies = _batches(n_events, batch_size, users=max(1000, n_events // 20), seed=batch_size)
        url, server, thread = _serve(store)
        local = threading.local()

        def post(body: bytes) -> None:
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            r = session.post(f"{url}/v1/batch", data=body, headers={"Content-Type": "application/json"}, timeout=120)
            if r.status_code != 200:
                raise RuntimeError(f"/v1/batch answered {r.status_code}: {r.text[:200]}")

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
        server.shutdown()
        thread.join(timeout=5)
        with store.engine.connect() as conn:
            stored = conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
        assert stored == n_events, (stored, n_events)
        return {
            "dialect": dialect,
            "batch": batch_size,
            "events": n_events,
            "clients": clients,
            "seconds": round(elapsed, 2),
            "events_per_s": round(n_events / elapsed),
        }
    finally:
        store.close()
        db.close()


# -- 2. profile resolution in a big store --------------------------------------


def _profile_rows(n: int, now: datetime) -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    cities = ["Lyon", "Paris", "Berlin", "New York", "Madrid", "Milano", "Leeds"]
    for i in range(n):
        yield {
            "id": f"u-{i:06d}",
            "email": f"person{i}@example.com",
            "traits": {"first_name": f"P{i}", "city": rng.choice(cities), "segment": rng.choice(["vip", "regular"])},
            "consents": {"personalization": True},
            "stamps": {},
            "locale": "fr_FR",
            "timezone": "Europe/Paris",
            "created_at": now,
            "updated_at": now,
        }


def _event_rows(n_profiles: int, n_events: int, now: datetime) -> Iterator[tuple]:
    rng = random.Random(11)
    span = 60 * 86400
    for i in range(n_events):
        pid = (
            f"u-{int(rng.paretovariate(1.2) * 1000) % n_profiles:06d}"
            if i % 2
            else f"u-{rng.randrange(n_profiles):06d}"
        )
        when = START + timedelta(seconds=rng.randrange(span))
        props = json.dumps({"product_id": f"sku-{rng.randrange(500)}", "price": round(rng.uniform(5, 300), 2)})
        yield (f"e-{i}", pid, "track", rng.choice(EVENT_NAMES), props, "{}", when, now)


EVENT_COLUMNS = ("message_id", "profile_id", "type", "event", "properties", "context", "timestamp", "received_at")


def fill(store: Store, n_profiles: int, n_events: int, chunk: int = 20_000) -> float:
    """Bulk-load profiles, their user id and email identities, and events; seconds taken."""
    started = time.perf_counter()
    now = datetime(2026, 11, 1)
    with store.engine.begin() as conn:
        rows = list(_profile_rows(n_profiles, now))
        for i in range(0, len(rows), chunk):
            conn.execute(insert(Profile.__table__), rows[i : i + chunk])
        ids = []
        for row in rows:
            ids.append({"kind": "user_id", "value": row["id"], "profile_id": row["id"], "created_at": now})
            ids.append(
                {"kind": "email", "value": store.hash_email(row["email"]), "profile_id": row["id"], "created_at": now}
            )
        for i in range(0, len(ids), chunk):
            conn.execute(insert(Identity.__table__), ids[i : i + chunk])
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for row in _event_rows(n_profiles, n_events, now):
                    copy.write_row(row)
            conn.execute(text("ANALYZE"))
    else:
        raw_rows = _event_rows(n_profiles, n_events, now)
        with store.engine.begin() as conn:
            sqlite = conn.connection.driver_connection
            placeholders = ", ".join("?" for _ in EVENT_COLUMNS)
            sql = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({placeholders})"
            while True:
                block = [r[:6] + (r[6].isoformat(sep=" "), r[7].isoformat(sep=" ")) for r in islice(raw_rows, chunk)]
                if not block:
                    break
                sqlite.executemany(sql, block)
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2), "max_ms": round(samples[-1] * 1000, 2)}


def bench_resolution(dialect: str, workdir: Path, n_profiles: int, n_events: int, lookups: int) -> dict[str, Any]:
    db = Database(dialect, workdir)
    store = Store(db.url)
    try:
        store.migrate()
        load_s = fill(store, n_profiles, n_events)
        with store.engine.connect() as conn:
            counts = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in ("profiles", "events")}
        rng = random.Random(3)
        picks = [rng.randrange(n_profiles) for _ in range(lookups)]
        for i in picks[:50]:  # warm the pool and the caches a little
            store.load_profile(id=f"u-{i:06d}")
        by_id, by_email, sizes = [], [], []
        for i in picks:
            t0 = time.perf_counter()
            doc = store.load_profile(id=f"u-{i:06d}")
            by_id.append(time.perf_counter() - t0)
            sizes.append(len(doc["events"]))
            t0 = time.perf_counter()
            store.load_profile(email=f"person{i}@example.com")
            by_email.append(time.perf_counter() - t0)
        return {
            "dialect": dialect,
            **counts,
            "load_s": round(load_s, 1),
            "lookups": lookups,
            "mean_events_per_doc": round(statistics.mean(sizes), 1),
            "max_events_per_doc": max(sizes),
            "by_id": _percentiles(by_id),
            "by_email": _percentiles(by_email),
        }
    finally:
        store.close()
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="10k profiles / 200k events, 20k ingested events")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--profiles", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--ingest-events", type=int)
    parser.add_argument("--batch-sizes", default="100,500")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-resolution", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    # one log line per request would measure the terminal, not the store
    from tailor.web.logs import get_logger

    get_logger().setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    n_profiles = args.profiles or (10_000 if args.small else 100_000)
    n_events = args.events or (200_000 if args.small else 2_000_000)
    n_ingest = args.ingest_events or (20_000 if args.small else 50_000)
    dialects = args.only or ["sqlite", "postgresql"]
    if "postgresql" in dialects and _postgres_base() is None:
        print("PostgreSQL not reachable: skipped", file=sys.stderr)
        dialects = [d for d in dialects if d != "postgresql"]
    results: dict[str, list] = {"ingest": [], "resolution": []}
    with tempfile.TemporaryDirectory(prefix="tailor-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_ingest:
            print(f"ingestion: {n_ingest:,} events per run through POST /v1/batch, {args.clients} clients")
            print(f"{'database':<11} {'batch':>6} {'seconds':>8} {'events/s':>9}")
            for dialect in dialects:
                for size in [int(s) for s in args.batch_sizes.split(",")]:
                    row = bench_ingest(dialect, workdir, n_ingest, size, args.clients)
                    results["ingest"].append(row)
                    print(f"{dialect:<11} {size:>6} {row['seconds']:>8} {row['events_per_s']:>9,}", flush=True)
        if not args.skip_resolution:
            print(f"\nprofile resolution: {n_profiles:,} profiles, {n_events:,} events, {args.lookups} random lookups")
            print(
                f"{'database':<11} {'load s':>7} {'id p50':>8} {'id p99':>8} {'email p50':>10} {'email p99':>10} "
                f"{'events/doc':>11}"
            )
            for dialect in dialects:
                row = bench_resolution(dialect, workdir, n_profiles, n_events, args.lookups)
                results["resolution"].append(row)
                print(
                    f"{dialect:<11} {row['load_s']:>7} {row['by_id']['p50_ms']:>6}ms {row['by_id']['p99_ms']:>6}ms "
                    f"{row['by_email']['p50_ms']:>8}ms {row['by_email']['p99_ms']:>8}ms "
                    f"{row['mean_events_per_doc']:>11}",
                    flush=True,
                )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
