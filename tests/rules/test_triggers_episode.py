"""The episode of a trigger (which qualifying events still hold products) is the same as the
plain definition: every exit applied to every pending entry, in time order.

The evaluator indexes pending entries by product id so a long history costs one look-up per
exit; this holds it to the walk-everything form it replaced, on generated histories.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from rules_helpers import AT

from tailor.triggers.evaluate import _episode, _iso, _Pending, _timeline
from tailor.triggers.spec import TriggerSpec
from tailor.vocabulary.products import event_products, product_id

SPEC = TriggerSpec.from_mapping(
    "cart", {"on": ["Product Added", "Checkout Started"], "unless": ["Order Completed", "Cart Emptied"]}
)
SKUS = ["a", "b", "c", "d"]


def reference_episode(spec: TriggerSpec, timeline: list) -> tuple[list[_Pending], str | None]:
    """The definition: each exit walks every pending entry."""
    pending: list[_Pending] = []
    ended_by = None
    ordered = sorted(timeline, key=lambda row: (row[0], row[2]["event"] in spec.unless, row[1]))
    for moment, index, event in ordered:
        name = event["event"]
        properties = event.get("properties") or {}
        if name in spec.unless and pending:
            products, _ = event_products(properties)
            ids = {product_id(p) for p in products}
            changed = False
            for entry in pending:
                if entry.snapshot is None:
                    entry.snapshot, entry.products, changed = False, [], True
                    continue
                kept = [p for p in entry.products if ids and product_id(p) not in ids]
                changed = changed or len(kept) != len(entry.products)
                entry.products = kept
            if changed:
                ended_by = f"{name} at {_iso(moment)}"
            pending = [p for p in pending if p.products or p.snapshot is None]
        elif name in spec.on:
            products, snapshot = event_products(properties)
            event_id = str(event.get("messageId") or f"{name}@{moment.isoformat()}#{index}")
            pending.append(
                _Pending(moment, event_id, list(products), snapshot if products else None, properties.get("currency"))
            )
    return pending, ended_by


def properties(kind: int, skus: list[str]) -> dict:
    if kind == 0:
        return {}  # names no product
    if kind == 1:
        return {"product_id": skus[0]}
    return {"products": [{"product_id": s} for s in skus]}


events = st.lists(
    st.tuples(
        st.sampled_from(["Product Added", "Checkout Started", "Order Completed", "Cart Emptied", "Product Viewed"]),
        st.integers(0, 40),  # minutes before the send: equal times happen
        st.integers(0, 2),
        st.lists(st.sampled_from(SKUS), min_size=1, max_size=3),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_the_indexed_episode_is_the_walk_over_every_entry(drawn):
    history = [
        {
            "type": "track",
            "event": name,
            "timestamp": (AT - timedelta(minutes=minutes)).isoformat(),
            "messageId": f"m{i}",
            "properties": properties(kind, skus),
        }
        for i, (name, minutes, kind, skus) in enumerate(drawn)
    ]
    got, got_ended = _episode(SPEC, _timeline(history, AT))
    want, want_ended = reference_episode(SPEC, _timeline(history, AT))
    assert [(p.event_id, p.products, p.snapshot) for p in got] == [(p.event_id, p.products, p.snapshot) for p in want]
    assert got_ended == want_ended
