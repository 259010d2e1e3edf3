"""The incremental trigger scan: the full scan's answer, from only what changed since its cursor."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from scan_helpers import AT, RULES, added, ordered

from tailor.rules import RuleBook
from tailor.store import Store
from tailor.triggers.scan import incremental_scan, scan, settle_cursor


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()


class Reads:
    """Records the profile ids each ``events_frame`` call asked for (None: every profile)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch):
        self.calls: list[set[str] | None] = []
        original = store.events_frame

        def recording(since: Any = None, profile_ids: Any = None) -> Any:
            self.calls.append(None if profile_ids is None else set(profile_ids))
            return original(since=since, profile_ids=profile_ids)

        monkeypatch.setattr(store, "events_frame", recording)

    def last(self) -> set[str] | None:
        return self.calls[-1]


def keys(due: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(d["profile_id"], d["trigger"], d["key"]) for d in due]


def test_a_scan_without_changes_reads_nothing_and_timers_coming_due_are_found(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = RuleBook.load(RULES).triggers
    start = AT - timedelta(minutes=30)
    store.ingest([added(f"cart-{i}", f"u-{i}", start, sku=f"sku-{i:04d}") for i in range(6)])
    store.ingest([added("old", "u-old", AT - timedelta(days=2))])  # due long ago
    reads = Reads(store, monkeypatch)

    first = incremental_scan(store, specs, AT)
    assert reads.last() is None  # the first scan reads everything
    assert keys(first) == keys(scan(store, specs, AT)) and [d["profile_id"] for d in first] == ["u-old"]

    again = incremental_scan(store, specs, AT)
    assert reads.last() == {"u-old"}  # only the one still due is checked again: nothing else changed
    assert keys(again) == keys(first)

    later = AT + timedelta(minutes=45)  # the carts' hour has passed: no new event, their timers ran out
    due = incremental_scan(store, specs, later)
    assert reads.last() == {f"u-{i}" for i in range(6)} | {"u-old"}
    assert keys(due) == keys(scan(store, specs, later))
    assert {d["profile_id"] for d in due} == {f"u-{i}" for i in range(6)} | {"u-old"}

    # a notifying scan claims every due episode, then settles the cursor: with nothing new,
    # the next scan checks no profile at all
    for item in due:
        assert store.record_trigger(item["profile_id"], item["trigger"], item["key"], fired_at=later)
    settle_cursor(store, specs)
    assert incremental_scan(store, specs, later + timedelta(minutes=1)) == []
    assert reads.last() == set()
    assert scan(store, specs, later + timedelta(minutes=1)) == []


def test_it_answers_what_the_full_scan_answers_as_events_arrive_and_episodes_fire(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = RuleBook.load(RULES).triggers
    store.ingest([added(f"a-{i}", f"u-{i}", AT - timedelta(hours=3)) for i in range(8)])
    at = AT
    assert keys(incremental_scan(store, specs, at)) == keys(scan(store, specs, at))
    reads = Reads(store, monkeypatch)
    steps = [
        [ordered(f"o-{i}", f"u-{i}", AT + timedelta(minutes=5)) for i in range(3)],  # three buy: no longer due
        [added("late", "u-new", AT - timedelta(hours=2))],  # stored now, timed earlier: due at once
        [],  # nothing new: the due ones stay due
    ]
    for step in steps:
        store.ingest(step)
        at += timedelta(minutes=20)
        due = incremental_scan(store, specs, at)
        assert keys(due) == keys(scan(store, specs, at))
    assert {d["profile_id"] for d in due} == {f"u-{i}" for i in range(3, 8)} | {"u-new"}
    # an episode fired (claimed by a notifying scan): the next scan no longer reports it
    key = next(d["key"] for d in due if d["profile_id"] == "u-3")
    assert store.record_trigger("u-3", "cart_abandonment", key, fired_at=at)
    at += timedelta(minutes=1)
    due = incremental_scan(store, specs, at)
    assert keys(due) == keys(scan(store, specs, at))
    assert "u-3" not in {d["profile_id"] for d in due}
    assert all(call is not None for call in reads.calls[::2])  # the incremental scans never read everything


def test_other_trigger_definitions_scan_everything_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = RuleBook.load(RULES).triggers
    store.ingest([added("a", "u-1", AT - timedelta(hours=3))])
    incremental_scan(store, specs, AT)
    reads = Reads(store, monkeypatch)
    only_carts = {"cart_abandonment": specs["cart_abandonment"]}
    assert keys(incremental_scan(store, only_carts, AT)) == keys(scan(store, only_carts, AT))
    assert reads.calls[0] is None


def test_an_incremental_scan_reads_events_and_firings_only_through_indexes(store: Store) -> None:
    """Every query of a scan after the first is index-bound: none reads all of ``events`` or of
    ``trigger_state``, so its cost follows what changed, not the store's history (a cooldown's
    expiry once scanned every firing ever recorded, twice per scan)."""
    from sqlalchemy import event

    specs = RuleBook.load(RULES).triggers
    store.ingest([added(f"a-{i}", f"u-{i}", AT - timedelta(hours=3)) for i in range(4)])
    for item in incremental_scan(store, specs, AT):
        assert store.record_trigger(item["profile_id"], item["trigger"], item["key"], fired_at=AT)
    settle_cursor(store, specs)
    store.ingest([added("b", "u-new", AT + timedelta(minutes=5))])
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        incremental_scan(store, specs, AT + timedelta(minutes=10))
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    tables = ("events", "trigger_state")
    assert any(f" {table}" in statement for statement, _ in statements for table in tables)
    postgres = store.engine.dialect.name == "postgresql"
    full_reads = []
    with store.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        if postgres:  # tables this small are cheaper to read whole: ask whether an index *can* answer
            cursor.execute("SET enable_seqscan = off")
            leading = _leading_columns(cursor, tables)
        for statement, parameters in statements:
            if postgres:
                cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
                nodes = _plan_nodes(cursor.fetchone()[0][0]["Plan"])
                full_reads += [statement for node in nodes if _reads_all(node, tables, leading)]
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                full_reads += [
                    row[3] for row in cursor.fetchall() if row[3].startswith(tuple(f"SCAN {t}" for t in tables))
                ]
        cursor.close()
    assert full_reads == []


def _leading_columns(cursor: Any, tables: tuple[str, ...]) -> dict[str, str]:
    """Each PostgreSQL index of these tables, by name: its first column."""
    cursor.execute(
        "SELECT ic.relname, a.attname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE t.relname = ANY(%s) AND t.relnamespace = to_regnamespace(current_schema())::oid",
        (list(tables),),
    )
    return dict(cursor.fetchall())


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _reads_all(node: dict[str, Any], tables: tuple[str, ...], leading: dict[str, str]) -> bool:
    """A PostgreSQL plan node reading all of one of these tables: a sequential scan, or one of its indexes
    walked end to end (no condition on the index's first column, e.g. ``trigger`` on ``(profile_id, trigger, key)``)."""
    if node["Node Type"] == "Seq Scan":
        return node.get("Relation Name") in tables
    first = leading.get(node.get("Index Name", ""))
    return first is not None and re.search(rf"\b{first}\b", node.get("Index Cond", "")) is None
