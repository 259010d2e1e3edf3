"""A simulated week of sends and what followed, with a known truth, for the outcomes report.

Real sends go through :meth:`Tailor.render` (a store, a send id, the send time), so the
sends log is the product's. Each send is clicked with a probability the simulation sets:
a base rate times a factor per chosen block (``effects``). A click converts with a fixed
probability, so a block's conversion rate carries its factor once. The control group's
sends get the base rate, so personalization's true lift is known. Clicks land on a shown
product's page now and then; a conversion buys a shown product half the time. Every
event follows its send within 18 hours, before the next day's send, so last-touch
attribution must credit exactly the send the simulation drew it for. Everything is
ingested as Segment events (``Email Opened``, ``Email Link Clicked``, ``Order Completed``).

Used by ``tests/monitor/test_monitor_outcomes.py`` and by ``scripts/simulate_outcomes.py``,
which writes the example shop's week shown in docs/monitoring.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tailor.email import TailorError

#: default true effects: a factor on the click and conversion rates per ``"slot: block"``
SHOP_EFFECTS: Mapping[str, float] = {
    "hero: hero/vip": 2.0,
    "hero: hero/win-back": 1.5,
    "hero: hero/cart-reminder": 2.5,
    "hero: hero/generic": 0.8,
}


@dataclass
class SimulatedWeek:
    sends: int = 0
    refused: int = 0
    control: int = 0
    events: int = 0
    #: per send key: (clicked, converted) as simulated — the truth the report is read against
    truth: dict[str, tuple[bool, bool]] = field(default_factory=dict)


def simulate_sends(
    engine: Any,
    recipients: Iterable[str],
    *,
    templates: Iterable[str],
    start: datetime,
    days: int,
    rng: np.random.Generator,
    click_rate: float = 0.08,
    conversion_rate: float = 0.03,
    effects: Mapping[str, float] = SHOP_EFFECTS,
) -> SimulatedWeek:
    """Send every template to every recipient once a day for ``days`` days, then what followed."""
    week = SimulatedWeek()
    store = engine.store
    urls = {str(row["id"]): str(row.get("url") or "") for row in store.catalog()}
    messages: list[dict[str, Any]] = []
    people = list(recipients)
    for day in range(days):
        for template in templates:
            for pid in people:
                sent_at = start + timedelta(days=day, hours=float(rng.uniform(7, 11)))
                key = f"sim-{template}-{day}-{pid}"
                try:
                    email = engine.render(template, recipient={"id": pid}, at=sent_at, send_id=key)
                except TailorError:
                    week.refused += 1  # suppressed, no email consent, an abort rule
                    continue
                week.sends += 1
                control = any(entry.get("control_group") for entry in email.decisions)
                week.control += control
                factor = 1.0
                if not control:
                    for slot, block in email.blocks.items():
                        factor *= effects.get(f"{slot}: {block}", 1.0)
                shown = [str(p) for p in (email.recommendations or {}).get("products") or []]
                clicked = rng.random() < min(click_rate * factor, 1.0)
                converted = clicked and rng.random() < min(conversion_rate / click_rate, 1.0)
                week.truth[key] = (clicked, converted)
                messages += _events(pid, key, sent_at, clicked, converted, shown, urls, rng)
    for begin in range(0, len(messages), 1000):
        store.ingest(messages[begin : begin + 1000])
    week.events = len(messages)
    return week


def _events(
    pid: str,
    key: str,
    sent_at: datetime,
    clicked: bool,
    converted: bool,
    shown: list[str],
    urls: Mapping[str, str],
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    def track(event: str, after_hours: float, properties: dict[str, Any]) -> dict[str, Any]:
        when = sent_at + timedelta(hours=after_hours)
        return {
            "type": "track",
            "event": event,
            "userId": pid,
            "messageId": f"{key}-{event}",
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "properties": properties,
        }

    out = [track("Email Opened", float(rng.uniform(0.1, 2)), {})] if clicked or rng.random() < 0.3 else []
    if clicked:
        product = shown[int(rng.integers(len(shown)))] if shown and rng.random() < 0.5 else None
        url = urls.get(product, "") if product else "https://shop.example.com/"
        out.append(track("Email Link Clicked", float(rng.uniform(2, 3)), {"url": f"{url}?utm_source=tailor"}))
    if converted:
        bought = shown[0] if shown and rng.random() < 0.5 else f"sku-{int(rng.integers(1, 200)):04d}"
        total = round(float(rng.lognormal(4.0, 0.4)), 2)
        order = {"order_id": key, "total": total, "products": [{"product_id": bought, "price": total, "quantity": 1}]}
        out.append(track("Order Completed", float(rng.uniform(3, 18)), order))
    return out
