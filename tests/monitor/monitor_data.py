"""A simulated shop for drift tests: the same behaviour every day, unless a shift is injected."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

AT = datetime(2026, 11, 23, 12, 0)
SKUS = [f"sku-{i:03d}" for i in range(40)]


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def simulate(
    *,
    seed: int = 5,
    profiles: int = 300,
    days: int = 35,
    shift: str | None = None,
    shift_days: int = 7,
) -> list[dict[str, Any]]:
    """Segment messages for ``profiles`` people over the ``days`` before :data:`AT`.

    Each person views products (Poisson, their own rate), sometimes adds one to the cart,
    and sometimes orders. ``shift`` changes the last ``shift_days`` days:
    ``"orders-lost"`` drops 90% of the Order Completed messages (a broken source);
    ``"big-spenders"`` brings a new audience that views six times as much and orders
    twice as much as everyone else.
    """
    rng = np.random.default_rng(seed)
    messages: list[dict[str, Any]] = []
    start = AT - timedelta(days=days)
    people = [(f"p-{i:04d}", float(rng.gamma(2.0, 0.6))) for i in range(profiles)]
    if shift == "big-spenders":
        newcomers = [(f"n-{i:04d}", float(rng.gamma(2.0, 3.6))) for i in range(profiles // 2)]
    else:
        newcomers = []
    serial = 0
    for day in range(days):
        midnight = start + timedelta(days=day)
        shifted = day >= days - shift_days
        cohort = people + (newcomers if shifted else [])
        for person, rate in cohort:
            boost = 2.0 if person.startswith("n-") else 1.0
            for _ in range(int(rng.poisson(rate))):
                serial += 1
                when = midnight + timedelta(seconds=int(rng.integers(0, 86400)))
                sku = SKUS[int(rng.integers(0, len(SKUS)))]
                props = {"product_id": sku, "price": 40.0, "name": sku, "category": "Knitwear"}
                messages.append(_track("Product Viewed", person, when, serial, props))
                if rng.random() < 0.15:
                    serial += 1
                    messages.append(_track("Product Added", person, when + timedelta(minutes=2), serial, props))
                    if rng.random() < 0.35 * boost and not (shift == "orders-lost" and shifted and rng.random() < 0.9):
                        serial += 1
                        total = round(float(rng.lognormal(4.0, 0.4)), 2)
                        order = {"products": [{"product_id": sku, "price": total, "quantity": 1}], "total": total}
                        messages.append(_track("Order Completed", person, when + timedelta(minutes=9), serial, order))
    return messages


def _track(event: str, person: str, when: datetime, serial: int, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "userId": person,
        "messageId": f"m-{serial:08d}",
        "timestamp": iso(when),
        "properties": properties,
    }
