"""Experiments: sticky weighted assignment, variants in the render, exposures once per send, the report."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from tailor import Tailor
from tailor.experiments import Experiment, Variant, assign, build_report, load_experiments
from tailor.experiments.report import compare, sample_ratio_mismatch

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"

AB = Experiment("hero-test", (Variant("control", 1), Variant("b", 1, {"hero": "hero/gift-guide"})), holdout=0.1)


def test_assignment_is_sticky_and_follows_the_weights():
    ids = [f"u-{i}" for i in range(20_000)]
    first = [assign(AB, i) for i in ids]
    assert first == [assign(AB, i) for i in ids]
    counts = Counter(first)
    expected = [20_000 * share for share in AB.expected_shares().values()]
    assert stats.chisquare([counts[n] for n in AB.expected_shares()], expected).pvalue > 0.001
    other = Experiment("another", AB.variants, holdout=0.1)
    assert sum(a == b for a, b in zip(first, (assign(other, i) for i in ids), strict=True)) < 0.6 * len(ids), (
        "experiments are independent"
    )


def test_uneven_weights():
    exp = Experiment("w", (Variant("a", 9), Variant("b", 1)))
    counts = Counter(assign(exp, f"id-{i}") for i in range(10_000))
    assert 0.87 < counts["a"] / 10_000 < 0.93


def test_statistics_match_a_hand_computation():
    lift, low, high, p = compare((100, 1000), (130, 1000))
    assert lift == pytest.approx(0.30)
    se = math.sqrt(0.13 * 0.87 / 1000 + 0.1 * 0.9 / 1000)
    assert (low, high) == pytest.approx((0.03 - 1.959964 * se, 0.03 + 1.959964 * se), rel=1e-4)
    pooled = 230 / 2000
    z = 0.03 / math.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert p == pytest.approx(2 * (1 - stats.norm.cdf(z)), rel=1e-6)


def test_sample_ratio_mismatch_is_flagged():
    assert sample_ratio_mismatch({"a": 5000, "b": 5050}, {"a": 0.5, "b": 0.5}) > 0.001
    assert sample_ratio_mismatch({"a": 5000, "b": 5600}, {"a": 0.5, "b": 0.5}) < 0.001


def test_conversions_count_only_inside_the_window_after_exposure():
    t0 = datetime(2026, 11, 1)
    exposures = pd.DataFrame(
        {"profile_id": ["p1", "p2", "p3", "p4"], "variant": ["control", "control", "b", "b"], "exposed_at": [t0] * 4}
    )
    conversions = pd.DataFrame(
        {
            "profile_id": ["p1", "p2", "p3", "p4"],
            "timestamp": [
                t0 + timedelta(days=1),
                t0 - timedelta(days=1),
                t0 + timedelta(days=8),
                t0 + timedelta(hours=2),
            ],
        }
    )
    report = build_report(Experiment("x", AB.variants), exposures, conversions)
    arms = {a.variant: a for a in report.arms}
    assert (arms["control"].conversions, arms["b"].conversions) == (
        1,
        1,
    )  # before exposure and after the window don't count


def test_yaml_problems_are_located(tmp_path):
    (tmp_path / "exp.yaml").write_text(
        "experiments:\n  ok-one:\n    variants: {a: {}, b: {weight: 2}}\n"
        "  bad:\n    variants: {only: {}}\n    holdout: 2\n"
    )
    found, problems = load_experiments(tmp_path)
    assert set(found) == {"ok-one"}
    assert {(p.line, p.col) for p in problems} == {(4, 3)}
    assert any("at least two" in p.message for p in problems) and any("holdout" in p.message for p in problems)


def persona(name: str) -> dict:
    return json.loads((ROOT / "fixtures" / "personas" / f"{name}.json").read_text())


@pytest.fixture
def shop(tmp_path):
    return Tailor(ROOT / "templates", ROOT / "rules", f"sqlite:///{tmp_path / 'exp.db'}", create_store=True)


@pytest.mark.slow
def test_variant_changes_the_default_hero_but_not_a_targeted_one(shop):
    experiment = shop.experiments["winter-hero"]
    seen = {}
    for i in range(40):
        doc = {**persona("sparse-data"), "id": f"exp-{i}"}
        email = shop.render("newsletter", profile=doc, at=AT)
        seen[email.experiments["winter-hero"]["variant"]] = email.blocks["hero"]
        assert email.experiments["winter-hero"]["variant"] == assign(experiment, f"exp-{i}")
    assert seen["gift-guide"] == "hero/gift-guide"
    assert seen["control"] == "hero/generic" and seen.get("holdout", "hero/generic") == "hero/generic"
    cart = shop.render("newsletter", profile=persona("cart-abandoner"), at=AT)
    assert cart.blocks["hero"] == "hero/cart-reminder", "a targeted rule beats the experiment"
    entry = next(d for d in cart.decisions if d.get("experiment") == "winter-hero")
    assert entry["variant"] == cart.experiments["winter-hero"]["variant"]


@pytest.mark.slow
def test_exposures_once_per_send_and_report(shop):
    from click.testing import CliRunner

    from tailor.cli import main

    doc = {**persona("sparse-data"), "id": "exp-send"}
    for _ in range(3):  # HTML, text and a retry of one send
        shop.render("newsletter", profile=doc, at=AT, send_id="send-1")
    shop.render("newsletter", profile=doc, at=AT, send_id="send-2")
    from sqlalchemy import text

    with shop.store.engine.connect() as conn:
        assert conn.execute(text("select count(*) from exposures where profile_id = 'exp-send'")).scalar() == 2
    result = CliRunner().invoke(
        main,
        ["experiments", "report", "winter-hero", "--database-url", shop.database_url, "--rules", str(ROOT / "rules")],
    )
    assert result.exit_code == 0, result.output
    assert "control" in result.output and "sample ratio" in result.output
    unknown = CliRunner().invoke(
        main, ["experiments", "report", "nope", "--database-url", shop.database_url, "--rules", str(ROOT / "rules")]
    )
    assert unknown.exit_code == 1 and "unknown experiment 'nope'" in unknown.output


def test_check_reports_experiment_problems(tmp_path):
    import shutil

    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "experiments.yaml").write_text("experiments:\n  solo:\n    variants: {only: {}}\n")
    problems = Tailor(ROOT / "templates", tmp_path / "rules").check()
    assert any(p.path.endswith("experiments.yaml") and p.line == 2 and "at least two" in p.message for p in problems)


# -- planned sample size, the no-peeking verdict ---------------------------------------


def test_plan_sample_size_matches_the_textbook_formula_and_the_cli():
    from click.testing import CliRunner

    from tailor.cli import main
    from tailor.experiments.stats import make_plan, sample_size

    # p1 = 3%, p2 = 3.3%: (1.95996·√(2·0.0315·0.9685) + 0.84162·√(0.0291 + 0.031911))² / 0.003²
    by_hand = (1.959964 * math.sqrt(2 * 0.0315 * 0.9685) + 0.841621 * math.sqrt(0.03 * 0.97 + 0.033 * 0.967)) ** 2
    assert sample_size(0.03, 0.033) == math.ceil(by_hand / 0.003**2) == 53_211
    assert make_plan(0.03, "10%").needed == make_plan("3%", "0.3pp").needed == 53_211
    assert make_plan(0.03, "10%", power=0.9).needed > 53_211 > make_plan(0.03, "20%").needed
    out = CliRunner().invoke(main, ["experiments", "plan", "--baseline", "0.03", "--mde", "10%"])
    assert out.exit_code == 0 and "53,211 recipients per variant" in out.output and "relative MDE 10%" in out.output
    absolute = CliRunner().invoke(main, ["experiments", "plan", "--baseline", "0.03", "--mde", "0.3pp"])
    assert "absolute MDE 0.3 pp" in absolute.output
    for bad in (["--mde", "0.1"], ["--mde", "10%", "--power", "2"], ["--mde", "10%", "--baseline", "1.5"]):
        result = CliRunner().invoke(main, ["experiments", "plan", "--baseline", "0.03", *bad])
        assert result.exit_code == 1 and "Traceback" not in result.output and "error" in result.output, result.output


def test_yaml_plan_is_read_and_bad_plans_are_located(tmp_path):
    (tmp_path / "exp.yaml").write_text(
        "experiments:\n"
        "  planned:\n    variants: {a: {}, b: {}}\n    plan: {baseline: 0.03, mde: 10%}\n"
        "    conversion: {event: [Order Completed, Subscription Started], within: 3d}\n"
        "  vague:\n    variants: {a: {}, b: {}}\n    plan: {baseline: 0.03, mde: 0.1}\n"
    )
    found, problems = load_experiments(tmp_path)
    assert found["planned"].plan is not None and found["planned"].plan.needed == 53_211
    assert found["planned"].conversion_events == ("Order Completed", "Subscription Started")
    assert [(p.line, p.col) for p in problems] == [(6, 3)] and "10% (relative" in problems[0].message


def _arrivals(per_arm: int, start: datetime, p_control: float, p_b: float, seed: int = 1):
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = [f"r{i}" for i in range(2 * per_arm)]
    variants = ["control"] * per_arm + ["b"] * per_arm
    exposed = [start + timedelta(minutes=i % per_arm) for i in range(2 * per_arm)]
    rates = [p_control] * per_arm + [p_b] * per_arm
    conv = [(p, t + timedelta(hours=1)) for p, t, r in zip(ids, exposed, rates, strict=True) if rng.random() < r]
    exposures = pd.DataFrame({"profile_id": ids, "variant": variants, "exposed_at": exposed})
    events = pd.DataFrame(
        {"profile_id": [c[0] for c in conv], "event": "Order Completed", "timestamp": [c[1] for c in conv]}
    )
    return exposures, events


def test_report_says_not_yet_conclusive_until_the_plan_and_its_window_are_complete():
    from tailor.experiments.report import COLLECTING, NO_PLAN, SIGNIFICANT, WAITING
    from tailor.experiments.stats import make_plan

    plan = make_plan(0.10, "50%")  # 10% → 15%: a few hundred per arm
    exp = Experiment("gated", (Variant("control", 1), Variant("b", 1)), conversion_window=timedelta(days=2), plan=plan)
    t0 = datetime(2026, 11, 1)
    exposures, events = _arrivals(plan.needed + 100, t0, 0.10, 0.30)
    early = exposures[
        exposures["profile_id"].isin([f"r{i}" for i in range(200)] + [f"r{plan.needed + 100 + i}" for i in range(200)])
    ]
    interim = build_report(exp, early, events, now=t0 + timedelta(days=1))
    assert interim.status == COLLECTING and interim.interim
    assert interim.arms[1].p_value < 0.05, "the interim numbers already look significant…"
    assert f"200 / {plan.needed:,}" in interim.verdict, "…and the report still says: not yet conclusive"
    waiting = build_report(exp, exposures, events, now=t0 + timedelta(days=1))
    assert waiting.status == WAITING and "conversion window closes" in waiting.verdict
    done = build_report(exp, exposures, events, now=t0 + timedelta(days=5))
    assert done.status == SIGNIFICANT and not done.interim
    assert [a.recipients for a in done.arms] == [plan.needed, plan.needed], "the decision uses the planned sample"
    assert done.after_plan == 200
    later = build_report(exp, exposures, events, now=t0 + timedelta(days=50))
    assert (later.status, later.arms[1].p_value) == (done.status, done.arms[1].p_value), "reading again changes nothing"
    unplanned = build_report(Experiment("free", exp.variants), exposures, events, now=t0 + timedelta(days=5))
    assert unplanned.status == NO_PLAN and "descriptive" in unplanned.verdict
    assert sum(a.recipients for a in unplanned.arms) == len(exposures)


def test_report_refuses_a_verdict_when_the_sample_ratio_is_off():
    from tailor.experiments.report import SRM

    t0 = datetime(2026, 11, 1)
    exposures, events = _arrivals(2000, t0, 0.1, 0.1)
    lossy = exposures.drop(exposures[exposures["variant"] == "b"].index[:300])
    report = build_report(Experiment("srm", (Variant("control", 1), Variant("b", 1))), lossy, events, now=t0)
    assert report.srm and report.status == SRM and "do not read the results" in report.verdict


# -- attribution ---------------------------------------------------------------------


def test_first_exposure_wins_and_secondary_clicks_are_attributed_like_conversions():
    t0 = datetime(2026, 11, 1)
    exp = Experiment("attr", (Variant("control", 1), Variant("b", 1)), conversion_events=("Order Completed", "Trial"))
    # p1 was first exposed to control, later (weights changed) to b: stays in control, window from the first
    exposures = (
        pd.DataFrame(
            {
                "profile_id": ["p1", "p1", "p2", "p3"],
                "variant": ["control", "b", "b", "b"],
                "exposed_at": [t0, t0 + timedelta(days=6), t0, t0],
            }
        )
        .sort_values("exposed_at")
        .groupby("profile_id", as_index=False)
        .first()
    )
    events = pd.DataFrame(
        {
            "profile_id": ["p1", "p2", "p3", "p3", "p2"],
            "event": ["Order Completed", "Trial", "Email Link Clicked", "Email Opened", "Email Link Clicked"],
            "timestamp": [
                t0 + timedelta(days=8),
                t0 + timedelta(hours=1),
                t0 + timedelta(hours=2),
                t0,
                t0 - timedelta(hours=1),
            ],
        }
    )
    report = build_report(exp, exposures, events, now=t0 + timedelta(days=30))
    arms = {a.variant: a for a in report.arms}
    assert (arms["control"].recipients, arms["b"].recipients) == (1, 2)
    assert arms["control"].conversions == 0, "8 days after the FIRST exposure is outside the 7-day window"
    assert arms["b"].conversions == 1, "any of the conversion events counts (p2's Trial)"
    clicks = arms["b"].secondary[0]
    assert clicks.event == "Email Link Clicked" and clicks.conversions == 1, "p3 clicked after; p2's click was before"


def test_two_experiments_attribute_independently_through_the_real_send_path(tmp_path, database_url):
    from tailor.experiments import report_from_store

    rules = tmp_path / "rules"
    shutil_copy_rules(rules)
    (rules / "experiments.yaml").write_text(
        "experiments:\n"
        "  hero-test:\n    templates: [newsletter]\n"
        "    variants: {control: {}, gift: {blocks: {hero: hero/gift-guide}}}\n"
        "    conversion: {event: Order Completed, within: 7d}\n"
        "  subject-test:\n    templates: [newsletter]\n    variants: {plain: {}, fancy: {set: {headline: Hi}}}\n"
        "    conversion: {event: Order Completed, within: 1h}\n"
    )
    shop = Tailor(ROOT / "templates", rules, database_url, create_store=True)
    people = [f"both-{i}" for i in range(12)]
    for person in people:
        email = shop.render(
            "newsletter", profile={**persona("sparse-data"), "id": person}, at=AT, send_id=f"s-{person}"
        )
        assert set(email.experiments) == {"hero-test", "subject-test"}
    later = datetime.now(UTC) + timedelta(hours=3)
    orders = [
        {
            "type": "track",
            "userId": p,
            "event": "Order Completed",
            "timestamp": later.isoformat(),
            "messageId": f"o-{p}",
        }
        for p in people[:6]
    ]
    # received then too (as a later load would): a time ahead of its receipt is clamped to the receipt
    shop.store.ingest_records(shop.store.validate(orders, received_at=later.replace(tzinfo=None)))
    read_at = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=10)
    hero = report_from_store(shop.store, shop.experiments["hero-test"], now=read_at)
    subject = report_from_store(shop.store, shop.experiments["subject-test"], now=read_at)
    assert sum(a.recipients for a in hero.arms) == sum(a.recipients for a in subject.arms) == 12
    assert sum(a.conversions for a in hero.arms) == 6, "each experiment counts the same order"
    assert sum(a.conversions for a in subject.arms) == 0, "…within its own window (1h: 3h later is out)"


def shutil_copy_rules(target: Path) -> None:
    import shutil

    shutil.copytree(ROOT / "rules", target)


def test_report_formats_text_json_and_a_self_contained_html_page(shop):
    from click.testing import CliRunner

    from tailor.cli import main

    for i in range(30):
        shop.render("newsletter", profile={**persona("sparse-data"), "id": f"fmt-{i}"}, at=AT, send_id=f"f-{i}")
    base = ["experiments", "report", "winter-hero", "--database-url", shop.database_url, "--rules", str(ROOT / "rules")]
    text_out = CliRunner().invoke(main, [*base, "--format", "text"])
    assert text_out.exit_code == 0 and "verdict:" in text_out.output and "Email Link Clicked" in text_out.output
    data = json.loads(CliRunner().invoke(main, [*base, "--format", "json"]).output)
    assert sum(a["recipients"] for a in data["arms"]) == 30 and data["status"] and data["daily"]
    page = CliRunner().invoke(main, [*base, "--format", "html"]).output
    assert page.startswith("<!doctype html>") and "<svg" in page and "<style>" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in page


def test_esp_clicks_from_webhooks_are_the_secondary_metric(tmp_path, database_url):
    """A click stored by the ESP webhook path (keyed by email) counts for the recipient's arm; a stranger's does not."""
    from tailor.experiments import report_from_store

    shop = Tailor(ROOT / "templates", ROOT / "rules", database_url, create_store=True)
    store = shop.store
    store.ingest(
        [
            {
                "type": "identify",
                "userId": f"esp-{i}",
                "traits": {"email": f"esp{i}@example.com"},
                "messageId": f"i-{i}",
            }
            for i in range(4)
        ]
    )
    arms = {}
    for i in range(4):
        email = shop.render("newsletter", profile={**persona("sparse-data"), "id": f"esp-{i}"}, at=AT, send_id=f"e-{i}")
        arms[f"esp-{i}"] = email.experiments["winter-hero"]["variant"]
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()

    def click(address: str, n: int) -> dict:
        return {
            "type": "track",
            "event": "Email Link Clicked",
            "context": {"traits": {"email": address}},
            "timestamp": later,
            "messageId": f"click-{n}",
        }

    store.ingest_email_events(
        [click("esp0@example.com", 0), click("esp1@example.com", 1), click("nobody@example.com", 2)]
    )
    report = report_from_store(
        store, shop.experiments["winter-hero"], now=datetime.now(UTC).replace(tzinfo=None) + timedelta(days=9)
    )
    clicks = {a.variant: a.secondary[0].conversions for a in report.arms}
    expected = Counter(arms[p] for p in ("esp-0", "esp-1"))
    assert {v: n for v, n in clicks.items() if n} == dict(expected), "only the two known recipients' clicks count"
    assert report.secondary_events == ["Email Link Clicked"]
