"""Identity resolution: anonymous → known, merges of known profiles, out-of-order arrivals, emails."""

from __future__ import annotations

import itertools
import random

import pytest
from sqlalchemy import text
from store_helpers import identify, table_counts, track

from tailor.store import Store


def test_anonymous_browsing_joins_the_profile_on_identify(store: Store) -> None:
    store.ingest(
        [
            track("v1", user=None, anon="a-1", ts="2026-11-01T10:00:00Z"),
            track("v2", user=None, anon="a-1", ts="2026-11-01T10:01:00Z"),
        ]
    )
    assert store.load_profile(anonymous_id="a-1")["id"] == "anon-a-1"
    store.ingest([identify("i1", user="u-1", anon="a-1", ts="2026-11-01T10:02:00Z", email="Ann@Example.com")])
    doc = store.load_profile(user_id="u-1")
    assert doc["id"] == "u-1"
    assert [e["messageId"] for e in doc["events"]] == ["v1", "v2", "i1"]
    assert store.load_profile(anonymous_id="a-1")["id"] == "u-1"
    assert store.load_profile(id="anon-a-1") is None  # the anonymous profile was absorbed
    assert table_counts(store)["profiles"] == 1


def test_email_is_normalized_and_looked_up_by_hash(store: Store) -> None:
    store.ingest([identify("i1", user="u-1", email="  Ann.Lee@Example.COM ")])
    doc = store.load_profile(email="ann.lee@example.com")
    assert doc["id"] == "u-1" and doc["email"] == "ann.lee@example.com"
    assert "email" not in doc["traits"]
    assert store.load_profile(email=" ANN.LEE@example.com")["id"] == "u-1"
    assert store.load_profile(email="other@example.com") is None
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT value FROM identities WHERE kind = 'email'")).scalars().all()
    assert rows == [store.hash_email("ann.lee@example.com")]
    assert len(rows[0]) == 64 and "@" not in rows[0]


def test_email_hash_is_keyed_per_database(store: Store) -> None:
    import hashlib

    assert store.hash_email("a@example.com") != hashlib.sha256(b"a@example.com").hexdigest()
    assert Store(store.database_url, email_key="k").hash_email("a@example.com") != store.hash_email("a@example.com")


def test_two_known_profiles_with_one_email_merge(store: Store) -> None:
    store.ingest(
        [
            identify(
                "a1", user="u-2", ts="2026-11-01T00:00:00Z", email="ann@example.com", city="Lyon", consent_tracking=True
            ),
            track("a2", user="u-2", ts="2026-11-01T00:01:00Z"),
            identify("b1", user="u-1", ts="2026-11-02T00:00:00Z", first_name="Ann", consent_tracking=True),
            track("b2", user="u-1", ts="2026-11-02T00:01:00Z"),
        ]
    )
    assert table_counts(store)["profiles"] == 2
    store.ingest(
        [identify("c1", user="u-1", ts="2026-11-03T00:00:00Z", email="ANN@example.com", consent_tracking=False)]
    )
    doc = store.load_profile(user_id="u-2")
    assert doc["id"] == "u-1"  # the smallest user id survives
    assert doc["traits"] == {"city": "Lyon", "first_name": "Ann"}
    assert doc["consents"] == {"tracking": False}
    assert [e["messageId"] for e in doc["events"]] == ["a1", "a2", "b1", "b2", "c1"]
    assert store.load_profile(id="u-2")["id"] == "u-1"  # absorbed ids keep resolving
    assert table_counts(store)["profiles"] == 1


def test_merge_takes_the_most_restrictive_consent(store: Store) -> None:
    store.ingest(
        [
            identify("1", user="u-1", ts="2026-11-01T00:00:00Z", consents={"personalization": False, "tracking": True}),
            identify(
                "2", user="u-2", ts="2026-11-05T00:00:00Z", consents={"personalization": True, "email_marketing": True}
            ),
        ]
    )
    store.ingest(
        [{"type": "alias", "userId": "u-1", "previousId": "u-2", "messageId": "3", "timestamp": "2026-11-06T00:00:00Z"}]
    )
    doc = store.load_profile(id="u-1")
    assert doc["consents"] == {"personalization": False, "tracking": True, "email_marketing": True}
    # a grant by another source does not lift the no; a newer grant by the same source does
    store.ingest([identify("4", user="u-2", ts="2026-11-07T00:00:00Z", consent_personalization=True)])
    assert store.load_profile(id="u-2")["consents"]["personalization"] is False
    store.ingest([identify("5", user="u-1", ts="2026-11-08T00:00:00Z", consent_personalization=True)])
    assert store.load_profile(id="u-2")["consents"]["personalization"] is True
    # within one source the latest write wins, whatever the arrival order
    store.ingest(
        [
            identify("6", user="u-1", ts="2026-11-09T00:00:00Z", consent_tracking=False),
            identify("7", user="u-1", ts="2026-11-08T12:00:00Z", consent_tracking=True),
        ]
    )
    assert store.load_profile(id="u-1")["consents"]["tracking"] is False


def test_traits_are_last_write_wins_by_timestamp(store: Store) -> None:
    store.ingest([identify("new", user="u-1", ts="2026-11-02T00:00:00Z", city="Paris", plan="pro")])
    store.ingest([identify("old", user="u-1", ts="2026-11-01T00:00:00Z", city="Lyon", first_name="Ann")])
    doc = store.load_profile(id="u-1")
    assert doc["traits"] == {"city": "Paris", "plan": "pro", "first_name": "Ann"}


def _story() -> list[dict]:
    """One shopper on two devices who signs up, then logs in elsewhere, plus a stranger."""
    return [
        track("d1-view", user=None, anon="dev-1", ts="2026-11-01T09:00:00Z", product_id="sku-1"),
        track("d1-add", "Product Added", user=None, anon="dev-1", ts="2026-11-01T09:05:00Z", product_id="sku-1"),
        identify(
            "d1-signup",
            user="u-9",
            anon="dev-1",
            ts="2026-11-01T09:10:00Z",
            email="Zoe@Example.com",
            first_name="Zoe",
            city="Lyon",
            consent_personalization=True,
        ),
        track("d2-view", user=None, anon="dev-2", ts="2026-11-02T20:00:00Z", product_id="sku-2"),
        identify("d2-login", user="u-9", anon="dev-2", ts="2026-11-02T20:01:00Z", city="Paris"),
        identify(
            "crm",
            user="crm-77",
            ts="2026-10-01T00:00:00Z",
            email="zoe@example.com",
            last_name="Roy",
            city="Nice",
            consent_personalization=False,
        ),
        track(
            "crm-order", "Order Completed", user="crm-77", ts="2026-10-02T00:00:00Z", products=[{"product_id": "sku-3"}]
        ),
        track("stranger", user=None, anon="dev-3", ts="2026-11-03T00:00:00Z"),
    ]


def _final_state(store: Store) -> dict:
    doc = store.load_profile(email="zoe@example.com")
    return {
        "id": doc["id"],
        "email": doc["email"],
        "traits": doc["traits"],
        "consents": doc["consents"],
        "events": [e["messageId"] for e in doc["events"]],
        "counts": table_counts(store),
        "stranger": store.load_profile(anonymous_id="dev-3")["id"],
    }


def _fresh(store: Store) -> None:
    with store.engine.begin() as conn:
        for table in ("events", "identities", "trigger_state", "suppressions", "profiles"):
            conn.execute(text(f"DELETE FROM {table}"))


def test_out_of_order_arrivals_give_the_same_profile(store: Store) -> None:
    story = _story()
    store.ingest(story)
    expected = _final_state(store)
    assert expected["id"] == "crm-77"
    assert expected["traits"] == {"first_name": "Zoe", "city": "Paris", "last_name": "Roy"}
    assert expected["events"] == ["crm", "crm-order", "d1-view", "d1-add", "d1-signup", "d2-view", "d2-login"]
    assert expected["counts"]["profiles"] == 2
    # the crm account said no; the web account's yes does not override another source's no
    assert expected["consents"] == {"personalization": False}
    rng = random.Random(7)
    orders = [list(reversed(story))] + [rng.sample(story, len(story)) for _ in range(6)]
    for order in orders:
        for batch_size in (1, 3):
            _fresh(store)
            for start in range(0, len(order), batch_size):
                store.ingest(order[start : start + batch_size])
            assert _final_state(store) == expected, (order, batch_size)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_merge_consents_do_not_depend_on_arrival_order(store: Store, order: tuple[int, ...]) -> None:
    messages = [
        identify("1", user="u-1", ts="2026-11-01T00:00:00Z", email="x@example.com", consent_email_marketing=True),
        identify("2", user="u-2", ts="2026-11-02T00:00:00Z", email="x@example.com", consent_email_marketing=False),
        identify("3", user="u-3", ts="2026-11-03T00:00:00Z", email="x@example.com", consent_email_marketing=True),
    ]
    for i in order:
        store.ingest([messages[i]])
    doc = store.load_profile(email="x@example.com")
    assert doc["id"] == "u-1"
    assert doc["consents"] == {"email_marketing": False}


def test_alias_links_a_previous_user_id(store: Store) -> None:
    store.ingest([track("1", user="old-id"), track("2", user="new-id")])
    store.ingest(
        [
            {
                "type": "alias",
                "userId": "new-id",
                "previousId": "old-id",
                "messageId": "3",
                "timestamp": "2026-11-21T00:00:00Z",
            }
        ]
    )
    assert store.load_profile(user_id="old-id")["id"] == "new-id"
    assert len(store.load_profile(user_id="new-id")["events"]) == 3


def test_merge_keeps_the_latest_trigger_state(store: Store) -> None:
    from datetime import datetime

    store.ingest([track("1", user="u-1"), track("2", user="u-2")])
    store.record_trigger("u-1", "cart_abandonment", "", datetime(2026, 11, 1))
    store.record_trigger("u-2", "cart_abandonment", "", datetime(2026, 11, 5))
    store.record_trigger("u-2", "browse_abandonment", "", datetime(2026, 11, 3))
    store.ingest([identify("3", user="u-1", email="a@example.com"), identify("4", user="u-2", email="a@example.com")])
    assert store.trigger_fired("u-1", "cart_abandonment") == datetime(2026, 11, 5)
    assert store.trigger_fired("u-1", "browse_abandonment") == datetime(2026, 11, 3)
    assert table_counts(store)["trigger_state"] == 2
