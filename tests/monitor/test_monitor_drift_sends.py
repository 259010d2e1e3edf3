"""Drift read from the sends log: chosen blocks, fallback reasons and recommendation engagement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from tailor.monitor.drift import DriftThresholds, judge
from tailor.monitor.sends import record_sends, send_row
from tailor.monitor.sources import drift_checks
from tailor.store import Store

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 23, 12, tzinfo=UTC)
PRODUCT = "sku-0001"


def shop_with_sends(path: Path, *, fallback_now: float, clicks_now: float, seed: int = 3) -> Store:
    """35 days of 80 sends a day; in the last 7 days, ``fallback_now`` of them time out on
    recommendations (2% before) and ``clicks_now`` click the shown product (10% before)."""
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.ingest_file(ROOT / "fixtures" / "catalog.csv")
    url = next(row["url"] for row in store.catalog() if row["id"] == PRODUCT)
    rng = np.random.default_rng(seed)
    rows, clicks = [], []
    for day in range(35):
        recent = day >= 28
        for i in range(80):
            pid = f"p-{day:02d}-{i:02d}"
            sent = AT - timedelta(days=35 - day, hours=-float(rng.uniform(0, 6)))
            timed_out = rng.random() < (fallback_now if recent else 0.02)
            recs = {"provider": "popular", "products": [PRODUCT]}
            hero = "hero/vip" if rng.random() < 0.3 else "hero/generic"
            rows.append(
                send_row(
                    profile_id=pid,
                    send_key=pid,
                    template="newsletter",
                    blocks={"hero": hero},
                    rules={"hero": "vip" if hero == "hero/vip" else None},
                    segments=[],
                    recs=recs,
                    control=False,
                    fallbacks=["recs-timeout"] if timed_out else [],
                    sent_at=sent,
                )
            )
            if rng.random() < (clicks_now if recent else 0.10):
                when = sent + timedelta(hours=5)
                clicks.append(
                    {
                        "type": "track",
                        "event": "Email Link Clicked",
                        "userId": pid,
                        "messageId": f"click-{pid}",
                        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "properties": {"url": f"{url}?utm_source=tailor"},
                    }
                )
    record_sends(store, rows)
    store.ingest(clicks)
    return store


def drift(store: Store):
    thresholds = DriftThresholds()
    return judge(drift_checks(store, AT, thresholds), thresholds, AT)


def test_steady_sends_raise_no_alert_from_the_sends_log(tmp_path: Path) -> None:
    store = shop_with_sends(tmp_path / "steady.db", fallback_now=0.02, clicks_now=0.10)
    try:
        report = drift(store)
    finally:
        store.close()
    names = {c.name: c for c in report.checks}
    assert {"blocks: hero", "rules: hero", "fallback: recs-timeout", "recs engagement: popular"} <= set(names)
    assert not [c for c in report.alerts if c.name.split(":")[0] in ("blocks", "rules", "fallback", "recs engagement")]


def test_a_fallback_surge_is_a_pipeline_alert_and_falling_engagement_is_model_decay(tmp_path: Path) -> None:
    store = shop_with_sends(tmp_path / "broken.db", fallback_now=0.40, clicks_now=0.01)
    try:
        report = drift(store)
    finally:
        store.close()
    alerting = {c.name: c for c in report.alerts}
    assert alerting["fallback: recs-timeout"].cause == "pipeline", report.to_text()
    assert alerting["recs engagement: popular"].cause == "model"
    assert "blocks: hero" not in alerting
    assert report.causes[:2] == ["pipeline", "model"]
    assert "ALERT — likely model decay" in report.to_text()
