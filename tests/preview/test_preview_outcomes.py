"""The studio's outcomes page in Chromium: a table and a chart per dimension, over real sends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from preview_helpers import ROOT, screenshot

START = datetime(2026, 11, 16, 8, tzinfo=UTC)  # in the past: ingestion clamps future event times
READ_AT = "2026-11-29T12:00:00Z"


def _studio_after_a_simulated_week(shop: Path, serve: Any, shop_recommender: Any) -> tuple[str, Any]:
    """A studio over a copy of the shop whose store had 3 days of newsletters to 60 people, and what followed."""
    from sqlalchemy import select

    from tailor import Tailor
    from tailor.config import Settings
    from tailor.monitor.simulation import simulate_sends
    from tailor.store.models import Profile
    from tailor.web import create_app

    (shop / "rules" / "monitor.yaml").write_text("monitor:\n  outcomes:\n    control_share: 0.2\n")
    url = f"sqlite:///{shop / 'studio.db'}"
    settings = Settings(templates=shop / "templates", rules=shop / "rules", database_url=url)
    tailor = Tailor(
        shop / "templates", shop / "rules", url, settings=settings, recommender=shop_recommender, create_store=True
    )
    for name in ("catalog.csv", "profiles.csv", "events.jsonl"):
        tailor.store.ingest_file(ROOT / "fixtures" / name)
    with tailor.store.engine.connect() as conn:
        people = sorted(conn.execute(select(Profile.id).where(Profile.email.is_not(None))).scalars())[:60]
    week = simulate_sends(tailor, people, templates=["newsletter"], start=START, days=3, rng=np.random.default_rng(9))
    app = create_app(settings, tailor=tailor)
    app.config.update({"TAILOR_PERSONAS": str(shop / "personas"), "TAILOR_PREVIEW_AT": READ_AT})
    return serve(app), week


def test_outcomes_page_shows_every_dimension_with_its_chart(page, shop, serve, shop_recommender) -> None:
    base, week = _studio_after_a_simulated_week(shop, serve, shop_recommender)
    page.goto(f"{base}/preview/")
    page.click("nav >> text=Outcomes")
    page.wait_for_selector("section.outcomes[data-dimension='template']")
    shown = [s.get_attribute("data-dimension") for s in page.locator("section.outcomes").all()]
    assert shown == ["control", "template", "block", "rule", "segment", "recommender"]
    template = page.locator("section[data-dimension='template'] tbody tr")
    control = page.locator("section[data-dimension='control'] tbody tr")
    sends = int(template.nth(0).locator("td").nth(0).inner_text()) + int(
        control.nth(0).locator("td").nth(0).inner_text()
    )
    assert sends == week.sends, "every send of the simulated days, once"
    for dimension in shown:
        rows = page.locator(f"section[data-dimension='{dimension}'] tbody tr").count()
        bars = page.locator(f"section[data-dimension='{dimension}'] svg g.arm rect.ci")
        assert bars.count() == rows, dimension
        assert all(bars.nth(i).bounding_box()["width"] >= 1 for i in range(rows))
        # the control group's rate is the line every chart is read against
        assert page.locator(f"section[data-dimension='{dimension}'] svg .control-line").count() == 1
    hero = page.locator("section[data-dimension='block'] svg g.arm").first
    rate = float(hero.get_attribute("data-rate"))
    assert float(hero.get_attribute("data-low")) <= rate <= float(hero.get_attribute("data-high"))
    screenshot(page, "outcomes", full_page=True)


def test_outcomes_page_window_and_bad_dates(page, shop, serve, shop_recommender) -> None:
    base, _ = _studio_after_a_simulated_week(shop, serve, shop_recommender)
    page.goto(f"{base}/preview/outcomes?since=2026-10-01&until=2026-10-05")
    assert page.locator("#no-sends").is_visible()
    answer = page.goto(f"{base}/preview/outcomes?since=soon")
    assert answer.status == 400 and "since: not a date" in page.content()
