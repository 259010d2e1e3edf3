"""Features of one profile at send time, from its event list."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tailor.features import definitions as d
from tailor.vocabulary.timeline import Timeline, build_timeline
from tailor.vocabulary.times import to_utc


def compute_features(
    events: list[dict],
    at: datetime,
    *,
    catalog: Mapping[str, Mapping[str, Any]] | None = None,
    traits: Mapping[str, Any] | None = None,
    timeline: Timeline | None = None,
) -> dict[str, Any]:
    """Computed features (see ``docs/rules.md``) of one profile as of ``at``.

    ``traits`` only feeds ``days_since_signup`` (from ``created_at``). ``timeline``: the
    events' :class:`~tailor.vocabulary.timeline.Timeline` as of ``at`` when the caller has
    it (a send builds it once for features and triggers); built from ``events`` otherwise.
    """
    at = to_utc(at)
    signed_up = to_utc(d.signup_time(traits))
    if timeline is None or timeline.at != at:
        timeline = build_timeline(events, at)

    def since(days: int) -> list[tuple[datetime, int, Mapping[str, Any]]]:
        # the timeline is in time order: only the window's events are read
        return timeline.since(at - timedelta(days=days))

    # Whole-history facts: one comparison per event. Orders in document order, so the
    # lifetime value adds the same floats in the same order whatever the timestamps.
    orders = sorted((row for row in timeline.rows if row[2]["event"] == d.ORDER), key=lambda row: row[1])
    values = [d.order_value(e.get("properties") or {}) for _, _, e in orders]
    last_order = max((t for t, _, _ in orders), default=None)
    days_since = (at - last_order).days if last_order else None
    lifetime = round(float(sum(values)), 2)

    views_by_category: Counter[str] = Counter()
    views = 0
    for _, _, event in since(d.VIEWS_WINDOW_DAYS):
        if event["event"] == d.VIEW:
            views += 1
            category, _ = d.product_attributes(event.get("properties") or {}, catalog)
            if category:
                views_by_category[category] += 1

    categories: Counter[str] = Counter()
    brands: Counter[str] = Counter()
    for _, _, event in since(d.AFFINITY_WINDOW_DAYS):
        weight = d.AFFINITY_WEIGHTS.get(event["event"])
        if not weight:
            continue
        for product in d.products_in(event.get("properties") or {}):
            category, brand = d.product_attributes(product, catalog)
            if category:
                categories[category] += weight
            if brand:
                brands[brand] += weight

    raw = sum(d.ENGAGEMENT_WEIGHTS.get(e["event"], 0) for _, _, e in since(d.ENGAGEMENT_WINDOW_DAYS))
    return {
        "days_since_purchase": days_since,
        "days_since_first_seen": (at - timeline.first_seen).days if timeline.first_seen else None,
        "days_since_signup": (at - signed_up).days if signed_up and signed_up <= at else None,
        "orders_total": len(orders),
        "orders_90d": sum(1 for _, _, e in since(d.ORDERS_WINDOW_DAYS) if e["event"] == d.ORDER),
        "lifetime_value": lifetime,
        "average_order_value": round(lifetime / len(orders), 2) if orders else 0.0,
        "views_30d": views,
        "views_by_category_30d": dict(sorted(views_by_category.items())),
        "favorite_category": d.favorite(categories),
        "favorite_brand": d.favorite(brands),
        "engagement_score": d.engagement_score(raw),
        "lifecycle_stage": d.lifecycle_stage(days_since),
    }
