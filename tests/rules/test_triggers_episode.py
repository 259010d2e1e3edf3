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

from tailor.triggers.evaluate import _episode, _iso, _ordered, _Pending, _pending
from tailor.triggers.spec import TriggerSpec
from tailor.vocabulary.products import event_products, product_id
from tailor.vocabulary.timeline import build_timeline

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


def generated(drawn: list) -> list[dict]:
    return [
        {
            "type": "track",
            "event": name,
            "timestamp": (AT - timedelta(minutes=minutes)).isoformat(),
            "messageId": f"m{i}",
            "properties": properties(kind, skus),
        }
        for i, (name, minutes, kind, skus) in enumerate(drawn)
    ]


def entries(pending: list[_Pending]) -> list[tuple]:
    return [(p.event_id, p.products, p.snapshot) for p in pending]


@settings(max_examples=300, deadline=None)
@given(events)
def test_the_indexed_episode_is_the_walk_over_every_entry(drawn):
    rows = build_timeline(generated(drawn), AT).rows
    got, got_ended = _episode(SPEC, _ordered(SPEC, rows))
    want, want_ended = reference_episode(SPEC, rows)
    assert entries(got) == entries(want)
    assert got_ended == want_ended


@settings(max_examples=500, deadline=None)
@given(events, st.integers(-1, 41))
def test_the_horizon_bounded_episode_is_the_whole_history_cut_after(drawn, minutes):
    """Only the events after the cutoff are replayed for what is pending; what explains an
    empty episode (its latest live entry, the exit that ended it) is the whole history's."""
    cutoff = AT - timedelta(minutes=minutes)  # often exactly at an event's time: the window is half-open
    pending, last_live, ended_by = _pending(SPEC, build_timeline(generated(drawn), AT), cutoff)
    episode, want_ended = reference_episode(SPEC, build_timeline(generated(drawn), AT).rows)
    assert entries(pending) == entries([p for p in episode if p.at > cutoff])
    assert last_live == (episode[-1].at if episode else None)
    if not pending and not episode:
        assert ended_by == want_ended
