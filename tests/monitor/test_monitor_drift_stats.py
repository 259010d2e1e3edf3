"""The drift statistics, by simulation: an injected shift is found, an unchanged world alerts rarely.

Each trial builds a whole report (several numeric, share and volume checks) from two windows
drawn from known distributions and judges it; the false-alarm rate is per report, so the
share of null reports with any alert must stay near ``false_alarm_rate`` (Bonferroni keeps it
at or below). The bounds leave binomial slack: 3 standard deviations over the trial count.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tailor.monitor.drift import DriftThresholds, judge, ks_check, shares_check, volume_check

AT = datetime(2026, 11, 23, tzinfo=UTC)
WEEK, MONTH = timedelta(days=7), timedelta(days=28)
CATEGORIES = ["new", "active", "lapsing", "lapsed"]
SHARES = [0.4, 0.3, 0.2, 0.1]


def report(rng: np.random.Generator, thresholds: DriftThresholds, shift: str | None = None):
    n_ref, n_cur = 1200, 400
    checks = []
    for index in range(4):  # four numeric features, the first one shifted when asked
        ref = rng.gamma(2.0, 10.0, n_ref)
        cur = rng.gamma(2.0, 10.0, n_cur)
        if shift == "numeric" and index == 0:
            cur = cur * 1.4
        checks.append(ks_check(f"f{index}", ref.tolist(), cur.tolist()))
    cur_shares = [0.2, 0.3, 0.3, 0.2] if shift == "shares" else SHARES
    checks.append(shares_check("stage", _counts(rng, n_ref, SHARES), _counts(rng, n_cur, cur_shares)))
    for kind, per_day in (("views", 200.0), ("orders", 8.0)):
        cur_rate = per_day * (0.3 if shift == "volume" and kind == "orders" else 1.0)
        checks.append(volume_check(kind, int(rng.poisson(per_day * 28)), MONTH, int(rng.poisson(cur_rate * 7)), WEEK))
    return judge(checks, thresholds, AT)


def _counts(rng: np.random.Generator, n: int, shares: list[float]) -> Counter:
    drawn = rng.multinomial(n, shares)
    return Counter({c: int(k) for c, k in zip(CATEGORIES, drawn, strict=True)})


@pytest.mark.parametrize("rate", [0.01, 0.05])
def test_an_unchanged_world_alerts_at_most_at_the_false_alarm_rate(rate: float) -> None:
    thresholds = DriftThresholds(false_alarm_rate=rate, min_ks=0.0, min_psi=0.0, min_volume_change=0.0)
    rng = np.random.default_rng(11)
    trials = 400
    alerting = sum(bool(report(rng, thresholds).alerts) for _ in range(trials))
    bound = rate + 3 * math.sqrt(rate * (1 - rate) / trials)
    assert alerting / trials <= bound, f"{alerting}/{trials} null reports alerted (bound {bound:.3f})"


def test_without_the_correction_the_same_null_reports_would_alert_far_more_often() -> None:
    """The test above can fail: judging each check at the report's rate raises many more alarms."""
    rng = np.random.default_rng(11)
    lenient = DriftThresholds(false_alarm_rate=0.05, min_ks=0.0, min_psi=0.0, min_volume_change=0.0)
    trials = 300
    uncorrected = 0
    for _ in range(trials):
        judged = report(rng, lenient)
        uncorrected += any(c.p_value < lenient.false_alarm_rate for c in judged.checks)
    assert uncorrected / trials > 0.15  # seven checks at 5% each: about 30%


@pytest.mark.parametrize(
    ("shift", "name", "cause"),
    [("numeric", "f0", "audience"), ("shares", "stage", "audience"), ("volume", "orders", "pipeline")],
)
def test_an_injected_shift_is_found_and_named(shift: str, name: str, cause: str) -> None:
    rng = np.random.default_rng(23)
    thresholds = DriftThresholds(false_alarm_rate=0.01)
    trials = 100
    found = others = 0
    for _ in range(trials):
        judged = report(rng, thresholds, shift)
        names = {c.name for c in judged.alerts}
        found += name in names
        others += bool(names - {name})
        if names == {name}:
            assert judged.causes == [cause]
    assert found / trials >= 0.95
    assert others <= 4, f"unshifted checks alerted in {others} of {trials} reports (1% expected)"


def test_a_significant_but_tiny_shift_is_not_an_alert() -> None:
    """With a huge audience everything is significant; the effect minimum keeps the alert for real moves."""
    rng = np.random.default_rng(3)
    ref = rng.normal(0.0, 1.0, 200_000).tolist()
    cur = rng.normal(0.03, 1.0, 200_000).tolist()
    check = ks_check("tiny", ref, cur)
    assert check.p_value < 1e-6
    assert judge([check], DriftThresholds(min_ks=0.1), AT).alerts == []
    assert judge([check], DriftThresholds(min_ks=0.0), AT).alerts != []


def test_too_few_observations_are_reported_as_insufficient_never_as_an_alert() -> None:
    check = ks_check("sparse", [1.0] * 10, [100.0] * 10)
    judged = judge([check], DriftThresholds(min_samples=30), AT)
    assert judged.checks[0].status == "insufficient"
    assert judged.alerts == []
    assert ks_check("empty", [], [1.0]).status == "insufficient"


def test_a_category_absent_on_one_side_has_a_finite_psi() -> None:
    check = shares_check("mix", {"a": 500, "b": 500}, {"a": 400, "b": 400, "c": 200})
    assert math.isfinite(check.effect) and check.effect > 0.25
    assert check.detail.startswith("c:")


def test_volume_change_is_the_relative_change_of_the_daily_rate() -> None:
    check = volume_check("orders", 280, MONTH, 14, WEEK)  # 10/day -> 2/day
    assert check.effect == pytest.approx(-0.8)
    assert "10/day → 2/day" in check.detail
