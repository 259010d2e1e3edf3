"""Batch ingestion: validation with JSON pointers, all-or-nothing, idempotency on messageId."""

from __future__ import annotations

import threading

import pytest
from store_helpers import identify, table_counts, track

from tailor.store import IngestResult, Store, ValidationError


def test_same_batch_twice_stores_nothing_twice(store: Store) -> None:
    batch = [
        track("m1"),
        track("m2", "Product Added", product_id="sku-1"),
        identify("m3", user="u-1", first_name="Ann"),
    ]
    assert store.ingest(batch) == IngestResult(accepted=3, duplicates=0)
    before = table_counts(store)
    assert store.ingest(batch) == IngestResult(accepted=0, duplicates=3)
    assert table_counts(store) == before
    assert before["events"] == 3


def test_duplicates_inside_one_batch_are_counted_once(store: Store) -> None:
    assert store.ingest([track("m1"), track("m1"), track("m2")]) == IngestResult(2, 1)


def test_retry_does_not_reapply_an_old_identify(store: Store) -> None:
    first = identify("m1", user="u-1", ts="2026-11-01T00:00:00Z", city="Lyon")
    store.ingest([first])
    store.ingest([identify("m2", user="u-1", ts="2026-11-02T00:00:00Z", city="Paris")])
    store.ingest([first])  # a late retry of the older message
    assert store.load_profile(id="u-1")["traits"]["city"] == "Paris"


def test_missing_message_id_is_derived_from_the_content(store: Store) -> None:
    message = track("x")
    del message["messageId"]
    assert store.ingest([message]) == IngestResult(1, 0)
    assert store.ingest([dict(message)]) == IngestResult(0, 1)
    events = store.load_profile(id="u-1")["events"]
    assert events[0]["messageId"].startswith("gen-")


def test_a_bad_message_writes_nothing_of_its_batch(store: Store) -> None:
    good = [track("m1"), identify("m2", user="u-2", email="ann@example.com")]
    bad = {"type": "track", "userId": "u-3", "messageId": "m3"}  # no event
    with pytest.raises(ValidationError) as info:
        store.ingest([*good, bad])
    assert info.value.pointer == "/batch/2/event"
    assert all(count == 0 for count in table_counts(store).values())


def test_failure_while_writing_rolls_the_batch_back(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import tailor.store.ingest as ingest_module

    def boom(conn, rows):  # the events insert fails after profiles and identities were written
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest_module, "_insert_events", boom)
    with pytest.raises(RuntimeError):
        store.ingest([identify("m1", user="u-1", email="a@example.com"), track("m2")])
    assert all(count == 0 for count in table_counts(store).values())


MALFORMED = [
    ("not an object", "[1]", "/batch/1"),
    ({"type": "purchase", "userId": "u"}, "type", "/batch/1/type"),
    ({"userId": "u", "event": "x"}, "missing type", "/batch/1/type"),
    ({"type": "track", "event": "x"}, "no ids", "/batch/1/userId"),
    ({"type": "track", "event": "x", "userId": ["u"]}, "userId type", "/batch/1/userId"),
    ({"type": "track", "event": "x", "anonymousId": {"a": 1}}, "anonymousId type", "/batch/1/anonymousId"),
    ({"type": "track", "userId": "u"}, "no event", "/batch/1/event"),
    ({"type": "track", "userId": "u", "event": ""}, "empty event", "/batch/1/event"),
    ({"type": "track", "userId": "u", "event": 5}, "event type", "/batch/1/event"),
    ({"type": "track", "userId": "u", "event": "x", "timestamp": "yesterday"}, "timestamp", "/batch/1/timestamp"),
    ({"type": "track", "userId": "u", "event": "x", "timestamp": 1700000000}, "timestamp number", "/batch/1/timestamp"),
    (
        {"type": "track", "userId": "u", "event": "x", "originalTimestamp": "nope"},
        "originalTimestamp",
        "/batch/1/originalTimestamp",
    ),
    ({"type": "track", "userId": "u", "event": "x", "properties": []}, "properties", "/batch/1/properties"),
    ({"type": "track", "userId": "u", "event": "x", "context": "web"}, "context", "/batch/1/context"),
    ({"type": "identify", "userId": "u", "traits": "vip"}, "traits", "/batch/1/traits"),
    ({"type": "track", "userId": "u", "event": "x", "messageId": 42}, "messageId", "/batch/1/messageId"),
    ({"type": "identify", "userId": "u", "traits": {"email": "not-an-email"}}, "email", "/batch/1/traits/email"),
    (
        {"type": "identify", "userId": "u", "traits": {"consent_tracking": "yes"}},
        "consent",
        "/batch/1/traits/consent_tracking",
    ),
    (
        {"type": "identify", "userId": "u", "traits": {"consents": {"email_marketing": 1}}},
        "consents",
        "/batch/1/traits/consents/email_marketing",
    ),
    ({"type": "alias", "userId": "u"}, "alias previousId", "/batch/1/previousId"),
    ({"type": "alias", "anonymousId": "a", "previousId": "p"}, "alias userId", "/batch/1/userId"),
    ({"type": "page", "userId": "u", "name": 3}, "page name", "/batch/1/name"),
    (
        {"type": "track", "userId": "u", "event": "Order Completed", "properties": {"products": {"id": 1}}},
        "products",
        "/batch/1/properties/products",
    ),
    (
        {"type": "track", "userId": "u", "event": "Order Completed", "properties": {"products": [{}, "sku"]}},
        "product",
        "/batch/1/properties/products/1",
    ),
]


@pytest.mark.parametrize("message, why, pointer", MALFORMED, ids=[m[1] for m in MALFORMED])
def test_each_kind_of_malformed_message_names_its_field(store: Store, message, why: str, pointer: str) -> None:
    with pytest.raises(ValidationError) as info:
        store.ingest([track("ok"), message])
    assert info.value.pointer == pointer
    assert table_counts(store)["events"] == 0


def test_every_message_type_is_accepted(store: Store) -> None:
    batch = [
        identify("1", user="u-1", first_name="Ann"),
        track("2", user="u-1"),
        {"type": "page", "userId": "u-1", "name": "Home", "messageId": "3", "timestamp": "2026-11-20T10:00:01Z"},
        {"type": "screen", "userId": "u-1", "name": "Cart", "messageId": "4", "timestamp": "2026-11-20T10:00:02Z"},
        {
            "type": "group",
            "userId": "u-1",
            "groupId": "g",
            "traits": {"name": "ACME"},
            "messageId": "5",
            "timestamp": "2026-11-20T10:00:03Z",
        },
        {"type": "alias", "userId": "u-1", "previousId": "a-1", "messageId": "6", "timestamp": "2026-11-20T10:00:04Z"},
    ]
    assert store.ingest(batch) == IngestResult(6, 0)
    doc = store.load_profile(id="u-1")
    assert [e["type"] for e in doc["events"]] == ["identify", "track", "page", "screen", "group", "alias"]
    assert doc["events"][2]["name"] == "Home"
    assert doc["traits"] == {"first_name": "Ann"}  # group traits describe the group
    assert store.load_profile(anonymous_id="a-1")["id"] == "u-1"


def test_timestamp_is_corrected_for_the_client_clock(store: Store) -> None:
    from tailor.store.messages import validate_message
    from tailor.store.times import parse_time

    received = parse_time("2026-11-20T12:00:10Z")
    record = validate_message(
        {
            "type": "track",
            "event": "x",
            "userId": "u",
            "originalTimestamp": "2026-11-20T11:00:00Z",
            "sentAt": "2026-11-20T11:00:05Z",
        },
        received_at=received,
    )
    assert record.timestamp == parse_time("2026-11-20T12:00:05Z")
    record = validate_message({"type": "track", "event": "x", "userId": "u", "timestamp": "2026-11-20T13:00:00+01:00"})
    assert record.timestamp == parse_time("2026-11-20T12:00:00Z")


def test_concurrent_retries_store_each_message_once(database_url: str) -> None:
    stores = [Store(database_url) for _ in range(4)]
    stores[0].migrate()
    batch = [track(f"m{i}", user=f"u-{i % 7}", anon=f"a-{i % 5}") for i in range(200)]
    batch += [identify(f"i{i}", user=f"u-{i}", email=f"user{i}@example.com") for i in range(7)]
    results: list[IngestResult] = []
    errors: list[BaseException] = []

    def send(store: Store) -> None:
        try:
            results.append(store.ingest(batch))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(s,)) for s in stores for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(r.accepted for r in results) == len(batch)
    assert all(r.accepted + r.duplicates == len(batch) for r in results)
    counts = table_counts(stores[0])
    assert counts["events"] == len(batch)
    # u-0..u-6 and a-0..a-4 are all chained together by the batch: one person
    assert counts["profiles"] == 1
    for s in stores:
        s.close()
