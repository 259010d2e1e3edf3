"""Experiments: sticky weighted assignment, variants in the render, exposures once per send, the report."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timedelta
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
