"""Computed features: definitions, and the pandas batch path agrees with the one-profile path."""

from __future__ import annotations

import json
import random
from datetime import timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from rules_helpers import AT, event

from tailor.features import FEATURE_NAMES, compute_features, compute_features_frame, features_from_row

FIXTURE_EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events.jsonl"


def ago(**delta) -> str:
    return (AT - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def test_empty_history():
    features = compute_features([], AT)
    assert set(features) == set(FEATURE_NAMES)
    assert features["days_since_purchase"] is None and features["days_since_first_seen"] is None
    assert features["days_since_signup"] is None
    assert features["lifecycle_stage"] == "new" and features["engagement_score"] == 0.0
    assert features["lifetime_value"] == 0.0 and features["favorite_category"] is None


def test_recency_frequency_monetary():
    events = [
        event("Order Completed", ago(days=10), total=100.0, products=[{"product_id": "a", "category": "Shoes"}]),
        event("Order Completed", ago(days=100), revenue=50.0),
        event("Order Completed", ago(days=20), products=[{"product_id": "b", "price": 10.0, "quantity": 3}]),
        event("Order Completed", ago(days=-1), total=999.0),  # after `at`: ignored
    ]
    features = compute_features(events, AT)
    assert features["days_since_purchase"] == 10
    assert features["orders_total"] == 3 and features["orders_90d"] == 2
    assert features["lifetime_value"] == 180.0 and features["average_order_value"] == 60.0
    assert features["lifecycle_stage"] == "active"


@pytest.mark.parametrize(
    ("days", "stage"), [(None, "new"), (0, "active"), (45, "active"), (46, "lapsing"), (90, "lapsing"), (91, "lapsed")]
)
def test_lifecycle_boundaries(days, stage):
    events = [] if days is None else [event("Order Completed", ago(days=days), total=1)]
    assert compute_features(events, AT)["lifecycle_stage"] == stage


def test_views_and_favourites():
    catalog = {"sku-2": {"category": "Bags", "brand": "Zed"}}
    events = [
        event("Product Viewed", ago(days=1), product_id="sku-1", category="Shoes", brand="Acme"),
        event("Product Viewed", ago(days=2), product_id="sku-1", category="Shoes", brand="Acme"),
        event("Product Viewed", ago(days=3), product_id="sku-2"),  # category from the catalog
        event("Product Viewed", ago(days=30), product_id="sku-1", category="Shoes"),  # outside 30d
        event("Product Added", ago(days=3), product_id="sku-2"),
    ]
    features = compute_features(events, AT, catalog=catalog)
    assert features["views_30d"] == 3
    assert features["views_by_category_30d"] == {"Bags": 1, "Shoes": 2}
    # Shoes: 3 views = 3; Bags: 1 view + 1 add (3) = 4
    assert features["favorite_category"] == "Bags" and features["favorite_brand"] == "Zed"


def test_days_since_signup_from_traits():
    assert compute_features([], AT, traits={"created_at": ago(days=1, hours=1)})["days_since_signup"] == 1
    assert compute_features([], AT, traits={"created_at": "garbage"})["days_since_signup"] is None
    assert compute_features([], AT, traits={"created_at": ago(days=-3)})["days_since_signup"] is None


def test_engagement_saturates():
    few = compute_features([event("Product Viewed", ago(days=1))], AT)["engagement_score"]
    many = compute_features([event("Product Viewed", ago(days=1))] * 500, AT)["engagement_score"]
    assert 0 < few < 10 and 99 < many <= 100


def synthetic_events(seed: int = 3, profiles: int = 60) -> list[dict]:
    """Random histories with the shapes the fixtures use (several time zones too)."""
    rng = random.Random(seed)
    categories, brands = ["Shoes", "Bags", "Hats", None], ["Acme", "Zed", "Nord"]
    rows = []
    for p in range(profiles):
        for _ in range(rng.randint(0, 40)):
            name = rng.choice(
                ["Product Viewed"] * 5
                + ["Product Added", "Checkout Started", "Order Completed", "Email Opened", "Page"]
            )
            moment = AT - timedelta(minutes=rng.randint(-600, 130 * 24 * 60))
            zone = timezone(timedelta(hours=rng.choice([0, 2, -5])))
            stamp = moment.astimezone(zone).isoformat().replace("+00:00", "Z")
            product = {
                "product_id": f"sku-{rng.randint(1, 30)}",
                "category": rng.choice(categories),
                "brand": rng.choice(brands),
                "price": round(rng.uniform(5, 200), 2),
                "quantity": rng.randint(1, 3),
            }
            if name == "Order Completed":
                props = {"order_id": f"o{p}-{len(rows)}", "products": [product]}
                if rng.random() < 0.7:
                    props["total"] = round(product["price"] * product["quantity"], 2)
            elif name == "Page":
                rows.append({"type": "page", "userId": f"u{p}", "timestamp": stamp, "properties": {}})
                continue
            else:
                props = product
            rows.append({"type": "track", "userId": f"u{p}", "event": name, "timestamp": stamp, "properties": props})
    return rows


def assert_agree(events: list[dict], catalog=None, signups=None) -> int:
    frame = pd.DataFrame(
        {
            "profile_id": [e.get("userId") or e.get("anonymousId") for e in events],
            "event": [e.get("event") for e in events],
            "timestamp": [e.get("timestamp") for e in events],
            "properties": [e.get("properties") for e in events],
        }
    )
    signups = signups or {}
    batch = compute_features_frame(frame, AT, catalog=catalog, signups=signups)
    by_profile: dict[str, list[dict]] = {}
    for e, pid in zip(events, frame["profile_id"], strict=True):
        by_profile.setdefault(pid, []).append(e)
    assert sorted(batch["profile_id"]) == sorted(p for p in by_profile if p is not None)
    for _, row in batch.iterrows():
        traits = {"created_at": signups[row["profile_id"]]} if row["profile_id"] in signups else None
        single = compute_features(by_profile[row["profile_id"]], AT, catalog=catalog, traits=traits)
        assert _close(features_from_row(row), single)
    return len(batch)


def _close(left: dict, right: dict) -> bool:
    for name in FEATURE_NAMES:
        a, b = left[name], right[name]
        if isinstance(a, float) or isinstance(b, float):
            assert a == pytest.approx(b, abs=0.011), (name, a, b)
        else:
            assert a == b, (name, a, b)
    return True


def test_batch_and_single_agree_on_synthetic_events():
    signups = {f"u{p}": ago(days=p * 3) for p in range(0, 60, 2)} | {"u1": "not a date", "u3": ago(days=-2)}
    assert assert_agree(synthetic_events(), signups=signups) > 40


def test_batch_keeps_profiles_with_only_future_or_identify_events():
    events = [
        {"type": "identify", "userId": "u1", "timestamp": ago(days=1), "traits": {}},
        {"type": "track", "userId": "u2", "event": "Product Viewed", "timestamp": ago(days=-1)},
    ]
    assert assert_agree(events) == 2


@pytest.mark.skipif(not FIXTURE_EVENTS.exists(), reason="fixtures/events.jsonl not generated yet")
def test_batch_and_single_agree_on_fixture_events():
    events = [json.loads(line) for line in FIXTURE_EVENTS.read_text().splitlines() if line.strip()]
    assert assert_agree(events) > 0


# -- bounded work: a send reads the windows' events by bisection of the time-ordered timeline --


def test_window_edges_are_half_open():
    """An event exactly 30 (90) days before the send is out of the 30 (90)-day window; a second later, in."""
    events = [
        event("Product Viewed", ago(days=30), product_id="a", category="Shoes"),
        event("Product Viewed", ago(days=30, seconds=-1), product_id="b", category="Bags"),
        event("Order Completed", ago(days=90), total=5.0, products=[{"product_id": "c", "category": "Hats"}]),
        event("Order Completed", ago(days=90, seconds=-1), total=7.0, products=[{"product_id": "d", "brand": "Zed"}]),
        event("Email Opened", ago(days=0)),  # exactly at the send: in every window
        event("Product Viewed", ago(seconds=-1), product_id="e", category="Hats"),  # after the send: in none
    ]
    features = compute_features(events, AT)
    assert features["views_30d"] == 1 and features["views_by_category_30d"] == {"Bags": 1}
    assert features["orders_90d"] == 1 and features["orders_total"] == 2
    assert features["lifetime_value"] == 12.0 and features["days_since_purchase"] == 89
    # affinity (90 days): the view of Bags (1) and the order of brand Zed (5); the edge order is out
    assert features["favorite_category"] == "Bags" and features["favorite_brand"] == "Zed"
    assert features["engagement_score"] == pytest.approx(100.0 * (1 - 2.718281828459045 ** (-2 / 20)), abs=0.05)
    assert features["days_since_first_seen"] == 90


def test_events_outside_every_window_change_only_the_whole_history_facts():
    recent = [
        event("Product Viewed", ago(days=3), product_id="a", category="Shoes", brand="Acme"),
        event("Order Completed", ago(days=40), total=20.0, products=[{"product_id": "a", "category": "Shoes"}]),
        event("Email Opened", ago(days=1)),
    ]
    ancient = [
        event("Product Viewed", ago(days=91 + i % 600), product_id="b", category="Bags", brand="Zed")
        for i in range(5_000)
    ]
    ancient.append(event("Order Completed", ago(days=700), total=30.0, products=[{"product_id": "b"}]))
    alone = compute_features(recent, AT)
    grown = compute_features(ancient + recent, AT)  # a document is oldest first
    for name in FEATURE_NAMES:
        if name in ("orders_total", "lifetime_value", "average_order_value", "days_since_first_seen"):
            continue
        assert grown[name] == alone[name], name
    assert (grown["orders_total"], grown["lifetime_value"], grown["average_order_value"]) == (2, 50.0, 25.0)
    assert grown["days_since_first_seen"] == 700 and alone["days_since_first_seen"] == 40


def test_document_order_does_not_matter():
    events = synthetic_events(seed=11, profiles=1)
    shuffled = list(events)
    random.Random(5).shuffle(shuffled)
    assert compute_features(shuffled, AT) == compute_features(events, AT)
    assert compute_features(sorted(events, key=lambda e: e["timestamp"]), AT) == compute_features(events, AT)
