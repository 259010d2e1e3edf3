"""Triggers: exits, expiry, cooldown, once per cart, and the edge cases of time."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rules_helpers import AT, event

from tailor.triggers import Fired, TriggerSpec, evaluate_triggers, parse_duration

CART = TriggerSpec.from_mapping(
    "cart_abandonment",
    {
        "on": ["Product Added", "Checkout Started"],
        "unless": ["Order Completed"],
        "after": "1h",
        "expires": "7d",
        "cooldown": "3d",
    },
)
BROWSE = TriggerSpec.from_mapping(
    "browse_abandonment",
    {
        "on": ["Product Viewed"],
        "min_count": 2,
        "within": "7d",
        "unless": ["Product Added", "Order Completed"],
        "after": "2h",
        "cooldown": "7d",
    },
)
SPECS = {"cart_abandonment": CART, "browse_abandonment": BROWSE}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ago(**delta) -> str:
    return iso(AT - timedelta(**delta))


def cart(events, at=AT, **kwargs):
    return evaluate_triggers(SPECS, events, at, **kwargs)["cart_abandonment"]


def browse(events, at=AT, **kwargs):
    return evaluate_triggers(SPECS, events, at, **kwargs)["browse_abandonment"]


def added(when: str, sku: str, mid: str | None = None, **props):
    return event("Product Added", when, mid, product_id=sku, **props)


def order(when: str, *skus: str, mid: str | None = None):
    return event(
        "Order Completed",
        when,
        mid,
        order_id="o1",
        products=[{"product_id": s, "price": 1.0, "quantity": 1} for s in skus],
    )


def test_durations():
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("7d") == timedelta(days=7)
    with pytest.raises(ValueError):
        parse_duration("7 days")


def test_abandoned_cart_is_active_with_items():
    state = cart(
        [
            added(ago(hours=5), "sku-1", "m1", price=49.0, quantity=1, name="Boots"),
            added(ago(hours=4), "sku-2", "m2", price=10.0, quantity=2),
        ]
    )
    assert state.active and bool(state)
    assert [(i["id"], i["quantity"], i["price"]) for i in state.items] == [("sku-2", 2, 10.0), ("sku-1", 1, 49.0)]
    assert state.items[1]["title"] == "Boots"
    assert state.since == AT - timedelta(hours=5)
    assert state.count == 2 and state.key
    json.dumps(state.as_dict())


def test_no_events_is_inactive():
    state = cart([])
    assert not state.active and state.items == [] and "no " in state.reason


def test_order_after_the_cart_ends_it():
    state = cart([added(ago(hours=5), "sku-1"), order(ago(hours=3), "sku-1")])
    assert not state.active and state.reason.startswith("ended by Order Completed")


def test_order_for_a_different_product_leaves_the_cart_abandoned():
    state = cart([added(ago(hours=5), "sku-1"), added(ago(hours=5), "sku-2"), order(ago(hours=3), "sku-9", "sku-2")])
    assert state.active and [i["id"] for i in state.items] == ["sku-1"]


def test_order_without_products_ends_everything():
    state = cart([added(ago(hours=5), "sku-1"), event("Order Completed", ago(hours=3), order_id="o1", total=5)])
    assert not state.active


def test_order_before_the_cart_does_not_end_it():
    state = cart([order(ago(days=2), "sku-1"), added(ago(hours=5), "sku-1")])
    assert state.active


def test_events_out_of_order_are_sorted_by_timestamp():
    # The order arrived first, but happened after the add: the cart is converted.
    events = [order(ago(hours=3), "sku-1"), added(ago(hours=5), "sku-1")]
    assert not cart(events).active
    shuffled = [added(ago(hours=h), f"sku-{h}", f"m{h}") for h in range(2, 9)]
    random.Random(7).shuffle(shuffled)
    state = cart(shuffled)
    assert [i["id"] for i in state.items] == [f"sku-{h}" for h in range(2, 9)]
    assert state.key == cart(sorted(shuffled, key=lambda e: e["timestamp"])).key


def test_order_in_the_same_second_converts_the_cart():
    when = ago(hours=5)
    assert not cart([order(when, "sku-1"), added(when, "sku-1")]).active


def test_time_zones_are_normalised():
    # 14:00+02:00 is 12:00Z: exactly `after` (1h) before 13:00Z.
    events = [added("2026-11-23T14:00:00+02:00", "sku-1")]
    assert cart(events, at=datetime(2026, 11, 23, 13, 0, tzinfo=UTC)).active
    assert not cart(events, at=datetime(2026, 11, 23, 12, 59, 59, tzinfo=UTC)).active
    # A naive `at` is UTC; an aware one in another zone means the same instant.
    paris = timezone(timedelta(hours=1))
    assert cart(events, at=datetime(2026, 11, 23, 14, 0, tzinfo=paris)).active
    assert cart(events, at=datetime(2026, 11, 23, 13, 0)).active


def test_after_boundary_is_inclusive():
    assert cart([added(ago(hours=1), "sku-1")]).active
    waiting = cart([added(ago(minutes=59), "sku-1")])
    assert not waiting.active and waiting.reason.startswith("waiting: due at")
    assert waiting.items  # templates can still see the cart


def test_expires_boundary_is_exclusive():
    assert not cart([added(ago(days=7), "sku-1")]).active
    expired = cart([added(ago(days=7), "sku-1")])
    assert expired.reason.startswith("expired")
    assert cart([added(ago(days=7, seconds=-1), "sku-1")]).active


def test_new_activity_restarts_the_quiet_period():
    state = cart([added(ago(hours=5), "sku-1"), added(ago(minutes=10), "sku-2")])
    assert not state.active and state.due_at == AT - timedelta(minutes=10) + timedelta(hours=1)


def test_events_after_at_are_ignored():
    state = cart([added(ago(hours=5), "sku-1"), order(iso(AT + timedelta(minutes=1)), "sku-1")])
    assert state.active


def test_several_carts_only_the_open_one_counts():
    events = [
        added(ago(days=3), "sku-1", "a1"),
        order(ago(days=3, hours=-1), "sku-1"),  # cart 1: bought
        added(ago(days=2), "sku-2", "b1"),
        order(ago(days=2, hours=-1), "sku-2"),  # cart 2: bought
        added(ago(hours=6), "sku-3", "c1"),
        added(ago(hours=5), "sku-4", "c2"),  # cart 3: open
    ]
    state = cart(events)
    assert state.active and [i["id"] for i in state.items] == ["sku-4", "sku-3"]
    assert state.since == AT - timedelta(hours=6)


def test_same_cart_never_fires_twice():
    events = [added(ago(hours=30), "sku-1", "m1")]
    first = cart(events)
    assert first.active
    fired = [Fired("cart_abandonment", first.key, AT - timedelta(hours=20))]
    # Even after the cooldown, and with more products added to the same cart.
    later = AT + timedelta(days=4)
    events.append(added(iso(AT + timedelta(days=3)), "sku-2", "m2"))
    again = cart(events, at=later, fired=fired)
    assert again.key == first.key
    assert not again.active and again.reason.startswith("already fired for this episode")


def test_cooldown_blocks_a_new_cart_soon_after():
    old = cart([added(ago(days=2), "sku-1", "m1")])
    events = [
        added(ago(days=2), "sku-1", "m1"),
        order(ago(days=1, hours=23), "sku-1"),
        added(ago(hours=3), "sku-2", "m2"),
    ]
    fired = [("cart_abandonment", old.key, AT - timedelta(days=1, hours=23, minutes=30))]
    state = cart(events, fired=fired)
    assert state.key != old.key
    assert not state.active and state.reason.startswith("cooldown")
    # Fired records as dicts, with ISO strings, work too; 3 days later it may fire.
    later = AT + timedelta(days=2)
    dict_fired = [{"trigger": "cart_abandonment", "key": old.key, "at": iso(AT - timedelta(days=1, hours=1))}]
    assert cart(events, at=later, fired=dict_fired).active


def test_cooldown_boundary():
    events = [added(ago(hours=3), "sku-2", "m2")]
    fired = [("cart_abandonment", "other", AT - timedelta(days=3))]
    assert cart(events, fired=fired).active
    fired = [("cart_abandonment", "other", AT - timedelta(days=3) + timedelta(seconds=1))]
    assert not cart(events, fired=fired).active


def test_checkout_snapshot_sets_quantities():
    events = [
        added(ago(hours=5), "sku-1", quantity=1),
        added(ago(hours=5, minutes=-1), "sku-1", quantity=1),
        event("Checkout Started", ago(hours=4), products=[{"product_id": "sku-1", "quantity": 3, "price": 5}]),
    ]
    state = cart(events)
    assert [(i["id"], i["quantity"]) for i in state.items] == [("sku-1", 3)]


def test_quantities_add_up_without_a_snapshot():
    state = cart([added(ago(hours=5), "sku-1", quantity=1), added(ago(hours=4), "sku-1", quantity=2)])
    assert state.items[0]["quantity"] == 3


def test_catalog_enriches_items():
    catalog = {
        "sku-1": {
            "title": "Wool socks",
            "price": 12.5,
            "image_url": "https://cdn/x.jpg",
            "url": "https://shop/p/sku-1",
            "category": "Socks",
            "brand": "Acme",
            "stock": 0,
        }
    }
    item = cart([added(ago(hours=5), "sku-1", quantity=1)], catalog=catalog).items[0]
    assert item == {
        "id": "sku-1",
        "quantity": 1,
        "title": "Wool socks",
        "price": 12.5,
        "image": "https://cdn/x.jpg",
        "url": "https://shop/p/sku-1",
        "category": "Socks",
        "brand": "Acme",
        "currency": None,
        "in_stock": False,
    }


def test_browse_needs_min_count_within_window():
    one = browse([event("Product Viewed", ago(hours=5), product_id="sku-1")])
    assert not one.active and one.reason.startswith("1 of 2")
    two = browse(
        [
            event("Product Viewed", ago(hours=5), product_id="sku-1"),
            event("Product Viewed", ago(hours=4), product_id="sku-2"),
        ]
    )
    assert two.active and [i["id"] for i in two.items] == ["sku-2", "sku-1"]
    assert all(i["quantity"] == 1 for i in two.items)
    old = browse(
        [
            event("Product Viewed", ago(days=7), product_id="sku-1"),
            event("Product Viewed", ago(hours=4), product_id="sku-2"),
        ]
    )
    assert not old.active  # exactly 7d ago is outside the window


def test_browse_exit_removes_only_the_added_product():
    events = [
        event("Product Viewed", ago(hours=6), product_id="sku-1"),
        event("Product Viewed", ago(hours=5), product_id="sku-2"),
        event("Product Viewed", ago(hours=4), product_id="sku-3"),
        added(ago(hours=3), "sku-2"),
    ]
    state = browse(events)
    assert state.active and [i["id"] for i in state.items] == ["sku-3", "sku-1"]
    # Cart and browse are separate: the add makes a cart.
    assert cart(events).active


def test_repeated_views_count_toward_min_count():
    views = [
        event("Product Viewed", ago(hours=5), product_id="sku-1"),
        event("Product Viewed", ago(hours=4), product_id="sku-1"),
    ]
    state = browse(views)
    assert state.active and len(state.items) == 1 and state.items[0]["quantity"] == 1


def test_undeclared_trigger_reads_inactive():
    states = evaluate_triggers(SPECS, [], AT)
    assert not states["wishlist"].active and states["wishlist"].items == []
    assert "not declared" in states["wishlist"].reason


def test_user_defined_trigger_without_unless():
    spec = TriggerSpec.from_mapping("price_watch", {"on": "Product Wishlisted", "after": "30m"})
    states = evaluate_triggers({"price_watch": spec}, [event("Product Wishlisted", ago(hours=1), product_id="s")], AT)
    assert states["price_watch"].active


def test_events_without_products_and_junk_are_tolerated():
    events = [
        event("Checkout Started", ago(hours=5)),
        {"event": "Product Added"},
        "junk",
        {"timestamp": "x"},
        {"event": "Product Added", "timestamp": "not a date", "properties": None},
    ]
    state = cart(events)
    assert state.active and state.items == [] and state.count == 1


def test_message_ids_make_keys_stable_across_evaluations():
    events = [added(ago(hours=5), "sku-1", "m-1")]
    assert cart(events).key == cart(list(events), at=AT + timedelta(hours=1)).key
    assert cart(events).key != evaluate_triggers(SPECS, events, AT)["browse_abandonment"].key


# -- bounded work: only the events after a trigger's horizon are replayed for what is pending --


def ancient_history(count: int) -> list[dict]:
    """Carts and views long outside every horizon, some ended by orders, most left (oldest first)."""
    events = []
    for i in range(count):
        moment = ago(days=400 - i * 300 / count)
        events.append(event("Product Viewed", moment, f"v{i}", product_id=f"old-{i % 7}", price=1.0))
        events.append(event("Product Added", moment, f"a{i}", product_id=f"old-{i % 5}", price=1.0))
        if i % 3 == 0:
            events.append(event("Order Completed", moment, f"o{i}", products=[{"product_id": f"old-{i % 5}"}]))
    return events


def test_a_long_ancient_history_leaves_a_recent_episode_as_it_is():
    recent = [
        event("Product Viewed", ago(hours=30), "rv1", product_id="sku-1", price=5.0),
        event("Product Viewed", ago(hours=20), "rv2", product_id="sku-2", price=6.0),
        event("Product Viewed", ago(hours=10), "rv3", product_id="sku-3", price=7.0),
        event("Product Added", ago(hours=5), "ra1", product_id="sku-1", price=5.0),
    ]
    specs = {"cart_abandonment": CART, "browse_abandonment": BROWSE}
    alone = evaluate_triggers(specs, recent, AT)
    grown = evaluate_triggers(specs, ancient_history(2_000) + recent, AT)
    assert grown["cart_abandonment"].active and grown["browse_abandonment"].active
    for name in specs:
        assert grown[name].as_dict() == alone[name].as_dict()


def test_an_expired_episode_is_explained_from_the_whole_history():
    events = [
        *ancient_history(50),
        event("Product Added", ago(days=8), "late", product_id="late-sku"),  # just outside 7 days
        event("Order Completed", ago(days=7, hours=12), "other", products=[{"product_id": "other-sku"}]),
    ]
    state = evaluate_triggers({"cart_abandonment": CART}, events, AT)["cart_abandonment"]
    assert not state.active
    assert state.reason == f"expired: last Checkout Started / Product Added event at {ago(days=8)}, more than 1w ago"
    # every cart ended by an order of what it held: the reason names the last order that ended one
    ended = [
        event("Product Added", ago(days=30), "a", product_id="x"),
        event("Product Added", ago(days=20), "b", product_id="y"),
        event("Order Completed", ago(days=19), "o1", products=[{"product_id": "y"}]),
        event("Order Completed", ago(days=10), "o2", products=[{"product_id": "x"}]),
        event("Order Completed", ago(days=9), "o3", products=[{"product_id": "z"}]),  # ended nothing
    ]
    state = evaluate_triggers({"cart_abandonment": CART}, ended, AT)["cart_abandonment"]
    assert state.reason == f"ended by Order Completed at {ago(days=10)}"
