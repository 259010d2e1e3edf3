"""The profile document, data-subject export, erasure and suppressions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from store_helpers import TABLES, identify, table_counts, track

from tailor.profile import validate_profile
from tailor.store import Store


def _shop(store: Store) -> None:
    store.ingest(
        [
            track("v1", user=None, anon="a-1", ts="2026-11-20T18:00:00Z", product_id="sku-1"),
            identify(
                "i1",
                user="u-123",
                anon="a-1",
                ts="2026-11-20T18:01:00Z",
                email="Ann@Example.com",
                first_name="Ann",
                city="Lyon",
                locale="fr_FR",
                timezone="Europe/Paris",
                consents={"personalization": True, "tracking": True, "email_marketing": True},
            ),
            track(
                "m1",
                "Product Added",
                user="u-123",
                ts="2026-11-20T18:02:00Z",
                product_id="sku-1",
                price=49.0,
                quantity=1,
            ),
            track("other", user="u-999", ts="2026-11-20T18:03:00Z"),
        ]
    )


def test_profile_document_has_the_spec_shape(store: Store) -> None:
    _shop(store)
    doc = store.load_profile(id="u-123")
    assert validate_profile(doc) == doc
    assert set(doc) == {"id", "email", "traits", "consents", "events"}
    assert doc["id"] == "u-123" and doc["email"] == "ann@example.com"
    assert doc["traits"] == {"first_name": "Ann", "city": "Lyon", "locale": "fr_FR", "timezone": "Europe/Paris"}
    assert doc["consents"] == {"personalization": True, "tracking": True, "email_marketing": True}
    assert doc["events"][-1] == {
        "type": "track",
        "event": "Product Added",
        "timestamp": "2026-11-20T18:02:00Z",
        "messageId": "m1",
        "properties": {"product_id": "sku-1", "price": 49.0, "quantity": 1},
    }
    # every reference resolves to the same document
    for ref in ({"email": " ANN@example.com"}, {"user_id": "u-123"}, {"anonymous_id": "a-1"}, {"id": "a-1"}):
        assert store.load_profile(**ref) == doc
    assert store.load_profile(id="nobody") is None
    assert store.load_profile() is None


def test_events_are_chronological_and_limited_to_the_latest(store: Store) -> None:
    store.ingest([track(f"m{i:02d}", ts=f"2026-11-{i + 1:02d}T00:00:00Z") for i in reversed(range(20))])
    events = store.load_profile(id="u-1", event_limit=5)["events"]
    assert [e["messageId"] for e in events] == ["m15", "m16", "m17", "m18", "m19"]
    assert len(store.load_profile(id="u-1", event_limit=None)["events"]) == 20


def test_locale_and_timezone_columns_follow_the_traits(store: Store) -> None:
    _shop(store)
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT locale, timezone FROM profiles WHERE id = 'u-123'")).one()
    assert tuple(row) == ("fr_FR", "Europe/Paris")


def test_export_contains_everything(store: Store) -> None:
    _shop(store)
    store.record_trigger("u-123", "cart_abandonment", "cart-1", datetime(2026, 11, 21, 12))
    store.add_suppression(profile_id="u-123", reason="unsubscribe", source="sendgrid")
    export = store.export_profile("u-123")
    assert export["email"] == "ann@example.com"
    assert [e["messageId"] for e in export["events"]] == ["v1", "i1", "m1"]
    assert export["events"][0]["properties"] == {"product_id": "sku-1"}
    assert "context" in export["events"][0] and export["events"][0]["receivedAt"].endswith("Z")
    kinds = sorted(i["kind"] for i in export["identities"])
    assert kinds == ["anonymous_id", "email", "user_id"]
    assert export["trigger_state"] == [
        {"trigger": "cart_abandonment", "key": "cart-1", "fired_at": "2026-11-21T12:00:00Z"}
    ]
    assert export["suppressions"][0]["reason"] == "unsubscribe"
    assert store.export_profile("nobody") is None


def _rows_mentioning(store: Store, needles: list[str]) -> list[tuple[str, str]]:
    found = []
    with store.engine.connect() as conn:
        for table in TABLES:
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                blob = " ".join(str(v) for v in row)
                found += [(table, n) for n in needles if n in blob]
    return found


def test_erase_leaves_nothing_behind(store: Store) -> None:
    _shop(store)
    store.record_trigger("u-123", "cart_abandonment", "", datetime(2026, 11, 21))
    assert store.erase_profile("a-1") is True  # any reference to the person
    assert (
        _rows_mentioning(
            store, ["u-123", "a-1", "ann@example.com", "Ann", "sku-1", store.hash_email("ann@example.com")]
        )
        == []
    )
    counts = table_counts(store)
    assert counts == {"profiles": 1, "identities": 1, "events": 1, "products": 0, "trigger_state": 0, "suppressions": 0}
    assert store.load_profile(email="ann@example.com") is None
    assert store.erase_profile("u-123") is False


def test_a_suppression_outlives_erasure_as_a_bare_hash(store: Store) -> None:
    _shop(store)
    store.add_suppression(email="ANN@example.com", reason="spam_report", source="mailgun")
    assert store.is_suppressed("u-123") == "spam_report"
    store.erase_profile("u-123")
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT profile_id, email_hash, reason FROM suppressions")).all()
    assert [tuple(r) for r in rows] == [(None, store.hash_email("ann@example.com"), "spam_report")]
    assert _rows_mentioning(store, ["u-123", "ann@example.com"]) == []
    # the person comes back: the old unsubscribe still holds
    store.ingest([identify("again", user="u-500", email="ann@example.com")])
    assert store.is_suppressed("u-500") == "spam_report"
    assert store.is_suppressed(email="ann@example.com") == "spam_report"


def test_suppressions_by_profile(store: Store) -> None:
    _shop(store)
    assert store.is_suppressed("u-123") is None
    store.add_suppression(profile_id="u-123", reason="hard_bounce", source="postmark")
    assert store.is_suppressed("u-123") == "hard_bounce"
    assert store.is_suppressed("u-999") is None
    assert store.is_suppressed(email="ann@example.com") == "hard_bounce"  # stored with the profile's email hash


def test_health(store: Store) -> None:
    assert store.health() is True


def test_a_send_reads_event_times_and_properties_as_the_export_does(store: Store) -> None:
    """The send-time lookup reads the events' time and JSON raw (not through SQLAlchemy's
    types) and converts them itself: the same document as the export's, every time shape."""
    store.ingest(
        [
            track("whole", ts="2026-11-20T18:02:00Z", product_id="sku-1", nested={"a": [1, 2.5, None]}),
            track("micro", ts="2026-11-20T18:02:00.123456Z", product_id="sku-2", name="Café ☕"),
            track("offset", ts="2026-11-20T19:02:00.5+01:00", products=[{"product_id": "sku-3"}]),
            track("midnight", ts="2026-01-01T00:00:00.000001Z"),
        ]
    )
    loaded = store.load_profile(id="u-1")
    exported = store.export_profile("u-1")
    assert loaded is not None and exported is not None
    times = {e["messageId"]: e["timestamp"] for e in loaded["events"]}
    assert times == {
        "midnight": "2026-01-01T00:00:00.000001Z",
        "whole": "2026-11-20T18:02:00Z",
        "micro": "2026-11-20T18:02:00.123456Z",
        "offset": "2026-11-20T18:02:00.500000Z",
    }
    keys = ("type", "event", "timestamp", "messageId", "properties")
    assert [{k: e.get(k) for k in keys} for e in loaded["events"]] == [
        {k: e.get(k) for k in keys} for e in exported["events"]
    ]
    by_id = {e["messageId"]: e for e in loaded["events"]}
    assert by_id["whole"]["properties"]["nested"] == {"a": [1, 2.5, None]}
    assert by_id["micro"]["properties"]["name"] == "Café ☕"
    bulk = store.load_profiles(ids=["u-1"])
    assert next(iter(bulk.values()))["events"] == loaded["events"]


def test_a_send_reads_the_document_as_sqlalchemy_reads_it_and_the_suppressions_counter_with_it(store: Store) -> None:
    """``load_send_profile`` runs on the driver's cursor: the same document as the statement
    built and run through SQLAlchemy (:func:`find_profile` + :func:`profile_document`, what the
    export reads), and the suppressions' change counter as the cache reads it."""
    from tailor.store.documents import find_profile, profile_document
    from tailor.store.suppressions import SuppressionCache

    _shop(store)
    store.ingest([track(f"x{i}", user="u-123", ts=f"2026-11-21T10:00:{i:02d}Z", n=i) for i in range(12)])
    cache = SuppressionCache(store)
    for ref in ({"id": "u-123"}, {"id": "a-1"}, {"email": "ann@example.com"}, {"user_id": "u-999"}):
        doc, version = store.load_send_profile(**ref, event_limit=10)
        with store.engine.connect() as conn:
            row = find_profile(conn, **ref, hash_email=store.hash_email)
            assert doc == profile_document(conn, row, 10)
        assert version is not None and version == cache._version()
    before = store.load_send_profile(id="u-123")[1]
    store.add_suppression(profile_id="u-123", reason="unsubscribe")
    assert store.load_send_profile(id="u-123")[1] not in (None, before)
    assert store.load_send_profile(id="nobody") == (None, None)
    with store.engine.begin() as conn:  # a store without the counter: none to hand over
        conn.execute(text("DELETE FROM store_meta WHERE key = 'suppressions_version'"))
    doc, version = store.load_send_profile(id="u-123")
    assert doc is not None and doc["id"] == "u-123" and version is None


def test_a_driver_error_on_the_send_read_is_sqlalchemys_and_leaves_the_pool_usable(store: Store) -> None:
    """The send read bypasses SQLAlchemy's execution but not its errors: the service answers a
    database error it knows (``DBAPIError``: 503 for a lost database), never the driver's own."""
    from sqlalchemy.exc import DBAPIError

    _shop(store)
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE events RENAME TO events_away"))
    for _ in range(2):  # the failed statement's transaction is not left open on the pooled connection
        try:
            store.load_profile(id="u-123")
        except DBAPIError as exc:
            assert "events" in str(exc)
        else:
            raise AssertionError("the events query ran without its table")
    assert store.load_profile(id="nobody") is None
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE events_away RENAME TO events"))
    assert store.load_profile(id="u-123")["id"] == "u-123"
