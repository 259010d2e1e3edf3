"""Benchmark: the trigger scan over a store of 500,000 synthetic events.

    .venv/bin/python benchmarks/triggers.py [--events 500000] [--profiles 25000] [--database-url URL]
    .venv/bin/python benchmarks/triggers.py --events 10000000 --profiles 500000 --incremental-only   # 10 M

Generates a seeded shop history (60 days of views, adds, checkouts, orders and page
views) straight into the store's tables (bulk inserts: ingestion speed is not what is
measured), then times ``tailor.triggers.scan.scan`` with the example shop's triggers:
reading the event window from the store, the vectorized pre-filter and the exact
per-candidate confirmation. Also times the same over *all* events (a trigger without
``within``/``expires`` needs the whole history), and the incremental scan
(``incremental_scan``) after ``--new-events`` new events, side by side with a full scan.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
# this checkout's code, whatever the environment's tailor is (a worktree measured beside main)
sys.path.insert(0, str(ROOT / "src"))
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def generate(store, n_events: int, n_profiles: int, seed: int = 7) -> None:
    from tailor.store.models import Product, Profile

    rng = random.Random(seed)
    now = AT.replace(tzinfo=None)
    skus = [f"sku-{i:04d}" for i in range(1, 301)]
    categories = ["Shoes", "Outerwear", "Knitwear", "Bags", "Accessories", "Denim"]
    with store.engine.begin() as conn:
        conn.execute(
            insert(Product.__table__),
            [
                {
                    "id": s,
                    "title": f"Product {s}",
                    "description": "",
                    "category": categories[i % 6],
                    "brand": f"Brand {i % 17}",
                    "price": 20.0 + i % 180,
                    "currency": "USD",
                    "stock": i % 9,
                    "image_url": None,
                    "url": None,
                    "tags": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for i, s in enumerate(skus)
            ],
        )
        conn.execute(
            insert(Profile.__table__),
            [
                {
                    "id": f"u-{i:06d}",
                    "email": None,
                    "traits": {},
                    "consents": {},
                    "stamps": {},
                    "locale": None,
                    "timezone": None,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n_profiles)
            ],
        )
    kinds = ["Product Viewed"] * 12 + ["Product Added"] * 3 + ["Checkout Started", "Order Completed"] + ["page"] * 4
    rows = _event_rows(rng, now, skus, kinds, n_events, n_profiles)
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.exec_driver_sql("ANALYZE")
        return
    # SQLite: the driver's executemany in one transaction, timestamps in SQLAlchemy's DateTime form; a
    # 1 GB page cache for this load only (millions of index inserts in random key order)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA cache_size=-1000000")
        sql = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})"
        while block := [(*r[:6], _sqlite_time(r[6]), _sqlite_time(r[7])) for r in islice(rows, 20_000)]:
            conn.connection.driver_connection.executemany(sql, block)
    store.engine.dispose()  # the scans get fresh connections: not the load's page cache


def _sqlite_time(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="microseconds")  # as SQLAlchemy's DateTime writes it on SQLite


EVENT_COLUMNS = ("message_id", "profile_id", "type", "event", "properties", "context", "timestamp", "received_at")


def _event_rows(rng, now, skus, kinds, n_events: int, n_profiles: int) -> Iterator[tuple]:
    """The seeded history: sessions of a few events close together, sometime in the last 60 days."""
    written = 0
    while written < n_events:
        pid = f"u-{rng.randrange(n_profiles):06d}"
        start = now - timedelta(seconds=rng.randrange(60 * 86400))
        for j in range(rng.randint(1, 8)):
            kind = rng.choice(kinds)
            sku = rng.choice(skus)
            ts = start + timedelta(seconds=90 * j)
            if kind == "page":
                row = ("page", "Home", {"path": "/"})
            elif kind in ("Checkout Started", "Order Completed"):
                products = [
                    {"product_id": rng.choice(skus), "price": 49.0, "quantity": 1} for _ in range(rng.randint(1, 3))
                ]
                row = ("track", kind, {"products": products, "total": 49.0 * len(products)})
            else:
                row = ("track", kind, {"product_id": sku, "price": 49.0, "quantity": 1, "category": "Shoes"})
            yield (f"m-{written:07d}", pid, row[0], row[1], json.dumps(row[2]), "{}", ts, ts)
            written += 1
            if written == n_events:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--profiles", type=int, default=25_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--new-events", type=int, default=1000, help="events ingested before the incremental scan")
    parser.add_argument(
        "--incremental-only",
        action="store_true",
        help="only the incremental scans and the full scan beside them: not the separate scan of the window "
        "(the first incremental scan is one) nor the read of every event (at 10 M events: minutes and gigabytes)",
    )
    args = parser.parse_args()

    from tailor.rules import RuleBook
    from tailor.store import Store
    from tailor.triggers.scan import (
        find_due,
        history_by_profile,
        incremental_scan,
        scan,
        settle_cursor,
        window_start,
    )

    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    store = Store(url)
    store.migrate()
    started = time.perf_counter()
    generate(store, args.events, args.profiles)
    print(
        f"generated {args.events:,} events for {args.profiles:,} profiles in {time.perf_counter() - started:.1f} s "
        f"({url.split(':')[0]})"
    )
    specs = RuleBook.load(ROOT / "rules").triggers
    now_naive = AT.replace(tzinfo=None)

    if not args.incremental_only:
        started = time.perf_counter()
        due = scan(store, specs, AT)
        total = time.perf_counter() - started
        print(f"scan (window since {window_start(specs, AT):%Y-%m-%d}): {len(due):,} due in {total:.2f} s")

        started = time.perf_counter()
        events = store.events_frame()
        read = time.perf_counter() - started
        catalog = {row["id"]: row for row in store.catalog()}
        started = time.perf_counter()
        due_all = find_due(events, specs, AT, catalog=catalog, fired=history_by_profile(store.trigger_history()))
        compute = time.perf_counter() - started
        print(
            f"all {len(events):,} events: read {read:.2f} s + pre-filter and confirm {compute:.2f} s "
            f"= {read + compute:.2f} s ({len(due_all):,} due)"
        )
        assert len(due_all) == len(due)

    # incremental: a first scan sets the cursor (it reads everything) and its due episodes are
    # claimed, as `--notify` does; then 1,000 new events arrive through ingestion and the next
    # scan reads only what changed
    from tailor.store.models import TriggerState

    started = time.perf_counter()
    first = incremental_scan(store, specs, AT)
    print(f"first incremental scan (reads the window, sets the cursor): {len(first):,} due in "
          f"{time.perf_counter() - started:.2f} s", flush=True)  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(
            insert(TriggerState.__table__),
            [
                {"profile_id": d["profile_id"], "trigger": d["trigger"], "key": d["key"], "fired_at": now_naive}
                for d in first
            ],
        )
    settle_cursor(store, specs)
    rng = random.Random(11)
    fresh = [
        {
            "type": "track",
            "event": rng.choice(["Product Viewed", "Product Added"]),
            "userId": f"u-{rng.randrange(args.profiles):06d}",
            "messageId": f"new-{i}",
            "timestamp": (AT + timedelta(minutes=5)).isoformat(),
            "properties": {"product_id": f"sku-{rng.randint(1, 300):04d}", "price": 49.0},
        }
        for i in range(args.new_events)
    ]
    for start in range(0, len(fresh), 500):
        store.ingest(fresh[start : start + 500])
    later = AT + timedelta(minutes=10)
    started, cpu = time.perf_counter(), time.process_time()
    due_incremental = incremental_scan(store, specs, later)
    incremental, incremental_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    due_full = scan(store, specs, later)
    full, full_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert [(d["profile_id"], d["trigger"], d["key"]) for d in due_incremental] == [
        (d["profile_id"], d["trigger"], d["key"]) for d in due_full
    ]
    print(
        f"after {args.new_events:,} new events: incremental scan {incremental:.2f} s ({incremental_cpu:.2f} s CPU), "
        f"full scan {full:.2f} s ({full_cpu:.2f} s CPU) (same {len(due_full):,} due; {full / incremental:.0f}x)"
    )
    # the goal of #16: a run's cost follows the change, whatever the history
    print(
        f"goal incremental scan ≤ 1 s after {args.new_events:,} new events: "
        f"{'met' if incremental <= 1.0 else 'not met'} ({incremental:.2f} s wall clock, {incremental_cpu:.2f} s CPU)"
    )
    store.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
