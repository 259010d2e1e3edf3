"""``tailor triggers scan --notify``: every due recipient reaches the receiver once.

Runs on SQLite and PostgreSQL, through the real CLI in subprocesses and a real local
HTTP receiver that verifies signatures and counts deliveries per Idempotency-Key.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta

import pytest
from scan_helpers import AT, Receiver, abandoned_carts, added, iso, lines, ordered, run_scan

from tailor.store import Store

N = 12


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real local HTTP endpoint that verifies signatures and counts deliveries per key."""
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def shop(database_url: str) -> str:
    store = Store(database_url)
    store.migrate()
    store.ingest(abandoned_carts(N))
    store.close()
    return database_url


def due_keys(database_url: str, at=AT) -> set[str]:
    result = run_scan(database_url, "--at", iso(at))
    assert result.returncode == 0, result.stderr
    return {line["key"] for line in lines(result.stdout)}


def outbox(database_url: str) -> list[dict]:
    store = Store(database_url)
    try:
        return store.notification_state()
    finally:
        store.close()


def test_listing_without_notify_records_nothing(shop: str) -> None:
    result = run_scan(shop, "--at", iso(AT))
    assert result.returncode == 0, result.stderr
    found = lines(result.stdout)
    assert sorted(line["profile_id"] for line in found) == [f"u-{i:03d}" for i in range(N)]
    assert {line["trigger"] for line in found} == {"cart_abandonment"}
    first = found[0]
    assert set(first) >= {"profile_id", "trigger", "key", "since", "items"}
    assert first["items"][0]["quantity"] == 1 and first["since"] == iso(AT - timedelta(hours=3))
    assert outbox(shop) == []
    assert due_keys(shop) == {line["key"] for line in found}  # listing twice: same answer


def test_notify_signs_posts_once_and_a_rerun_notifies_nobody(shop: str, receiver: Receiver) -> None:
    expected = due_keys(shop)
    first = run_scan(shop, "--at", iso(AT), "--notify", receiver.url)
    assert first.returncode == 0, first.stderr
    assert receiver.bad_signatures == 0
    assert set(receiver.per_key) == expected and set(receiver.per_key.values()) == {1}
    body = receiver.deliveries[0]["body"]
    assert body["key"] == receiver.deliveries[0]["key"] and body["trigger"] == "cart_abandonment"
    assert all(line["notified"] and not line["redelivered"] for line in lines(first.stdout))
    assert all(row["notified_at"] is not None and row["attempts"] == 1 for row in outbox(shop))

    second = run_scan(shop, "--at", iso(AT), "--notify", receiver.url)
    assert second.returncode == 0, second.stderr
    assert lines(second.stdout) == []
    assert len(receiver.deliveries) == N
    assert due_keys(shop) == set()  # fired episodes are no longer due


def test_5xx_is_retried_with_backoff_then_acknowledged(shop: str, receiver: Receiver) -> None:
    receiver.fail_first = 2
    result = run_scan(shop, "--at", iso(AT), "--notify", receiver.url, "--trigger", "cart_abandonment")
    assert result.returncode == 0, result.stderr
    assert len(receiver.deliveries) == N and receiver.requests == N + 2
    assert sorted(row["attempts"] for row in outbox(shop)) == [1] * (N - 1) + [3]


def test_a_receiver_that_stays_down_leaves_notifications_pending_for_the_next_scan(shop: str) -> None:
    down = Receiver()
    down.fail_first = 10_000
    try:
        result = run_scan(shop, "--at", iso(AT), "--notify", down.url, "--retries", "1")
    finally:
        down.close()
    assert result.returncode == 1
    assert down.deliveries == [] and down.requests == 2 * N
    assert all(row["notified_at"] is None and row["attempts"] == 2 for row in outbox(shop))
    assert due_keys(shop) == set()  # claimed: the listing no longer shows them...

    up = Receiver()
    try:
        again = run_scan(shop, "--at", iso(AT), "--notify", up.url)
        assert again.returncode == 0, again.stderr
        assert len(up.deliveries) == N and set(up.per_key.values()) == {1}  # ...but they are delivered
        assert all(line["redelivered"] for line in lines(again.stdout))
    finally:
        up.close()


def test_4xx_is_not_retried(shop: str, receiver: Receiver) -> None:
    receiver.fail_first, receiver.fail_status = 1, 400
    result = run_scan(shop, "--at", iso(AT), "--notify", receiver.url)
    assert result.returncode == 1
    assert receiver.requests == N and len(receiver.deliveries) == N - 1


@pytest.mark.slow
def test_kill_9_mid_scan_then_rerun_delivers_every_key(shop: str, receiver: Receiver) -> None:
    expected = due_keys(shop)
    receiver.block_at = 5  # the 5th delivery is received, then the sender dies before the 200
    process = run_scan(shop, "--at", iso(AT), "--notify", receiver.url, wait=False)
    try:
        assert receiver.blocked.wait(120), "the scan never reached the 5th notification"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        receiver.release.set()
    assert process.returncode == -signal.SIGKILL
    in_flight = receiver.deliveries[-1]["key"]
    acknowledged_before = {d["key"] for d in receiver.deliveries[:-1]}
    assert len(acknowledged_before) == 4

    receiver.block_at = None
    rerun = run_scan(shop, "--at", iso(AT), "--notify", receiver.url)
    assert rerun.returncode == 0, rerun.stderr
    counts = receiver.per_key
    # every due recipient was notified; only the one in flight at the crash came twice,
    # with the same Idempotency-Key, so a receiver deduplicating on it acts exactly once
    assert set(counts) == expected
    assert {k for k, n in counts.items() if n > 1} == {in_flight} and counts[in_flight] == 2
    assert all(counts[k] == 1 for k in acknowledged_before)
    assert len(receiver.deliveries) == N + 1
    assert all(row["notified_at"] is not None for row in outbox(shop))
    redelivered = {line["key"] for line in lines(rerun.stdout) if line["redelivered"]}
    assert in_flight in redelivered and not (redelivered & acknowledged_before)

    third = run_scan(shop, "--at", iso(AT), "--notify", receiver.url)
    assert third.returncode == 0 and lines(third.stdout) == []
    assert len(receiver.deliveries) == N + 1


@pytest.mark.slow
def test_two_concurrent_scans_never_notify_the_same_recipient_twice(shop: str, receiver: Receiver) -> None:
    expected = due_keys(shop)
    receiver.delay = 0.02
    scans = [run_scan(shop, "--at", iso(AT), "--notify", receiver.url, wait=False) for _ in range(2)]
    outputs = [p.communicate(timeout=240) for p in scans]
    assert [p.returncode for p in scans] == [0, 0], [err for _, err in outputs]
    counts = receiver.per_key
    assert set(counts) == expected and set(counts.values()) == {1}
    assert len(receiver.deliveries) == N
    printed = [line["key"] for out, _ in outputs for line in lines(out)]
    assert sorted(printed) == sorted(expected)  # each delivery reported by exactly one scan


@pytest.mark.slow
def test_cooldown_blocks_the_next_episode_until_it_has_passed(database_url: str, receiver: Receiver) -> None:
    store = Store(database_url)
    store.migrate()
    store.ingest([added("a1", "u-ann", AT - timedelta(hours=2))])
    store.close()
    first = run_scan(database_url, "--at", iso(AT), "--notify", receiver.url)
    assert first.returncode == 0 and len(receiver.deliveries) == 1
    # she buys that cart, then leaves a new one: a new episode (a new key)...
    store = Store(database_url)
    store.ingest(
        [ordered("o1", "u-ann", AT + timedelta(hours=1)), added("a2", "u-ann", AT + timedelta(hours=2), "sku-0002")]
    )
    store.close()
    # ...due an hour later, but the 3-day cooldown since the first firing holds it back
    assert due_keys(database_url, AT + timedelta(days=1)) == set()
    later = run_scan(database_url, "--at", iso(AT + timedelta(days=2, hours=23, minutes=59)), "--notify", receiver.url)
    assert later.returncode == 0 and len(receiver.deliveries) == 1
    after = run_scan(database_url, "--at", iso(AT + timedelta(days=3)), "--notify", receiver.url)
    assert after.returncode == 0, after.stderr
    assert len(receiver.deliveries) == 2
    assert receiver.deliveries[1]["key"] != receiver.deliveries[0]["key"]
    assert receiver.deliveries[1]["body"]["items"][0]["id"] == "sku-0002"


def test_at_in_the_past_or_future_changes_who_is_due(shop: str) -> None:
    now = {line["profile_id"] for line in lines(run_scan(shop, "--at", iso(AT)).stdout)}
    assert "u-fresh" not in now and "u-bought" not in now and len(now) == N
    # four hours ago the carts were not an hour old yet (or not there at all)
    assert lines(run_scan(shop, "--at", iso(AT - timedelta(hours=4))).stdout) == []
    # an hour from now the fresh cart is due too
    soon = {line["profile_id"] for line in lines(run_scan(shop, "--at", iso(AT + timedelta(hours=1))).stdout)}
    assert soon == now | {"u-fresh"}
    # eight days on, every cart has expired (expires: 7d)
    assert lines(run_scan(shop, "--at", iso(AT + timedelta(days=8))).stdout) == []


def test_unknown_trigger_and_bad_time_are_clear_errors(shop: str) -> None:
    result = run_scan(shop, "--trigger", "nope")
    assert result.returncode == 1 and "unknown trigger 'nope'" in result.stderr
    result = run_scan(shop, "--at", "yesterday")
    assert result.returncode == 1 and "--at" in result.stderr
