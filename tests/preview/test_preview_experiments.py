"""The studio's experiments pages in Chromium: list, one experiment's table, SVG charts, SRM, plan progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from preview_helpers import ROOT, screenshot

AT = "2026-11-23T12:00:00Z"


def _studio_with_sends(shop: Path, serve: Any, shop_recommender: Any) -> str:
    """A studio over a copy of the shop with a store that 40 real sends went through (and a declared plan)."""
    from tailor import Tailor
    from tailor.config import Settings
    from tailor.web import create_app

    rules = shop / "rules" / "experiments.yaml"
    rules.write_text(
        rules.read_text().replace(
            "    templates: [newsletter]", "    templates: [newsletter]\n    plan: {baseline: 0.03, mde: 10%}"
        )
    )
    url = f"sqlite:///{shop / 'studio.db'}"
    settings = Settings(templates=shop / "templates", rules=shop / "rules", database_url=url)
    tailor = Tailor(
        shop / "templates", shop / "rules", url, settings=settings, recommender=shop_recommender, create_store=True
    )
    persona = json.loads((ROOT / "fixtures" / "personas" / "sparse-data.json").read_text())
    for i in range(40):
        tailor.render("newsletter", profile={**persona, "id": f"studio-{i}"}, at=AT, send_id=f"send-{i}")
    app = create_app(settings, tailor=tailor)
    app.config.update({"TAILOR_PERSONAS": str(shop / "personas"), "TAILOR_PREVIEW_AT": AT})
    return serve(app)


def test_experiments_page_shows_variants_charts_srm_and_plan_progress(page, shop, serve, shop_recommender):
    base = _studio_with_sends(shop, serve, shop_recommender)
    page.goto(f"{base}/preview/")
    page.click("nav >> text=Experiments")
    row = page.locator("#experiments tr[data-experiment='winter-hero']")
    assert "53,211 per variant" in row.inner_text() and "collecting" in row.inner_text()
    row.locator("a").click()
    page.wait_for_selector("section.experiment[data-experiment='winter-hero']")
    arms = page.locator("#arms tbody tr")
    assert arms.count() == 3  # control, gift-guide, holdout
    total = sum(int(arms.nth(i).locator("td").nth(0).inner_text().replace(",", "")) for i in range(3))
    assert total == 40, "every real send is one recipient"
    assert "not yet conclusive" in page.locator("#verdict").inner_text()
    assert "/ 53,211" in page.locator("#plan").inner_text()
    assert page.locator("#srm").inner_text().startswith(("ok", "MISMATCH", "not enough"))
    # the charts are inline SVG that the browser lays out: one CI bar per arm with recipients, one line per arm
    bars = page.locator("#rate-chart svg g.arm rect.ci")
    assert bars.count() == 3 and all(bars.nth(i).bounding_box()["width"] >= 1 for i in range(3))
    lines = page.locator("#exposure-chart svg polyline")
    assert lines.count() == 3 and page.locator("#exposure-chart svg .plan-line").count() == 1
    screenshot(page, "experiments-winter-hero", full_page=True)
    missing = page.goto(f"{base}/preview/experiments/nope")
    assert missing.status == 404 and "unknown experiment" in page.content()
