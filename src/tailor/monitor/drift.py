"""Drift: has what tailor sees moved since a reference window?

A drift report compares a recent window (``window``, e.g. the last 7 days) with the
reference window just before it (``reference``, e.g. the 28 days before that). Each
comparison is a :class:`Check` of one of three kinds:

``numeric``
    a feature's values (``days_since_purchase`` of the profiles active in each window):
    two-sample Kolmogorov–Smirnov; the effect is the KS distance ``D``.
``shares``
    how a total splits into categories (event types, segments, chosen blocks, fallback
    reasons): chi-square test of the two-row contingency table; the effect is the
    population stability index (PSI, with half-count smoothing so an empty category is finite).
``rate``
    how often something happens per unit (a segment's share of the active profiles, a
    fallback reason's share of sends, the share of sends whose recommendations were
    clicked): the two-proportion test of the experiments report; the effect is the
    relative change of the rate (``-0.6`` = down 60%). PSI would understate these: a
    rate falling from 10% to 3% moves a two-category PSI by less than 0.1.
``volume``
    events per day of one kind: under "no change" the recent count, given the total of
    both windows, is binomial with the recent window's share of the time; the effect is the
    relative change of the daily rate (``-0.8`` = down 80%).

A check alerts only when both hold: its p-value is below ``false_alarm_rate`` divided by
the number of checks in the report (Bonferroni), so an unchanged world alerts in at most
that share of reports whatever the number of features; and its effect reaches the
configured minimum, so a large audience does not alert on a shift nobody would act on.
A side with fewer than ``min_samples`` observations is reported as ``insufficient``,
never as an alert.

Each check names the likely cause class of its alert, which is what an operator triages on:
``pipeline`` (volume collapsed or jumped, fallbacks surged: something upstream broke),
``audience`` (who is being sent to changed), ``model`` (recommendations stopped working).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Kind = Literal["numeric", "shares", "rate", "volume"]
Cause = Literal["pipeline", "audience", "model"]

#: what each cause class tells the operator to look at first
CAUSE_HINTS: Mapping[str, str] = {
    "pipeline": "a pipeline break: check ingestion sources, the ESP integration and recent deploys",
    "audience": "an audience shift: who is being sent to has changed (a new source, a campaign, a season)",
    "model": "model decay: recommendations perform worse than before; retrain or roll back",
}


#: triage order: a broken pipeline explains moved features, a decayed model moved clicks
CAUSE_ORDER: tuple[Cause, ...] = ("pipeline", "model", "audience")


@dataclass(frozen=True)
class DriftThresholds:
    """When a difference is an alert. Read from ``rules/monitor.yaml`` (:mod:`tailor.monitor.config`)."""

    window: timedelta = timedelta(days=7)
    reference: timedelta = timedelta(days=28)
    #: the share of reports on unchanged data that may raise an alert (family-wise, per report)
    false_alarm_rate: float = 0.01
    #: smallest KS distance worth an alert
    min_ks: float = 0.1
    #: smallest PSI worth an alert (0.1 is the usual "moderate shift" line; 0.25 "large")
    min_psi: float = 0.1
    #: smallest relative change of an event rate worth an alert (0.5 = ±50%)
    min_volume_change: float = 0.5
    #: smallest relative change of a rate (segment share, fallback share, engagement) worth an alert
    min_rate_change: float = 0.5
    #: fewer observations than this on either side: the check is ``insufficient``
    min_samples: int = 30
    #: where alerts are POSTed (signed like every tailor request), if anywhere
    webhook: str | None = None


@dataclass(frozen=True)
class Check:
    """One comparison of the recent window with the reference window."""

    kind: Kind
    name: str
    cause: Cause
    reference_n: int
    current_n: int
    #: the test statistic (KS ``D``, chi-square, or the recent count)
    statistic: float = math.nan
    p_value: float = math.nan
    #: the effect the thresholds apply to: KS ``D``, PSI, or the relative rate change
    effect: float = math.nan
    #: what moved most, in words (``"Order Completed: 120/day → 24/day"``)
    detail: str = ""
    status: Literal["ok", "alert", "insufficient"] = "ok"


@dataclass(frozen=True)
class DriftReport:
    """Every check of one comparison, and which of them alert."""

    at: datetime
    window: timedelta
    reference: timedelta
    false_alarm_rate: float
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def alerts(self) -> list[Check]:
        return [c for c in self.checks if c.status == "alert"]

    @property
    def causes(self) -> list[str]:
        """The cause classes of the alerts, the one to look at first first.

        A pipeline break comes first whenever there is one: events that stop arriving
        move every feature computed from them, so the audience checks alert too, as a
        consequence rather than a second cause.
        """
        found = {check.cause for check in self.alerts}
        return [cause for cause in CAUSE_ORDER if cause in found]

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "window_days": self.window.total_seconds() / 86400,
            "reference_days": self.reference.total_seconds() / 86400,
            "false_alarm_rate": self.false_alarm_rate,
            "alert": bool(self.alerts),
            "causes": [{"cause": c, "hint": CAUSE_HINTS[c]} for c in self.causes],
            "checks": [{k: _finite(v) for k, v in asdict(c).items()} for c in self.checks],
        }

    def to_text(self) -> str:
        lines = [
            f"drift at {self.at:%Y-%m-%d %H:%M} UTC: last {_days(self.window)} against the "
            f"{_days(self.reference)} before (false-alarm rate {self.false_alarm_rate:g} per report)"
        ]
        if not self.alerts:
            lines.append("no alert: nothing moved beyond its threshold")
        for cause in self.causes:
            lines.append(f"ALERT — likely {CAUSE_HINTS[cause]}")
        width = max((len(c.name) for c in self.checks), default=10)
        for check in sorted(self.checks, key=lambda c: (c.status != "alert", c.kind, c.name)):
            mark = {"alert": "!!", "ok": "  ", "insufficient": "··"}[check.status]
            effect = "" if math.isnan(check.effect) else f"{_effect_label(check)}={check.effect:+.3f}"
            p_text = "" if math.isnan(check.p_value) else f"p={check.p_value:.2g}"
            lines.append(
                f"{mark} {check.kind:<7} {check.name:<{width}} {effect:<14} {p_text:<10} "
                f"n={check.reference_n}/{check.current_n}  {check.detail}".rstrip()
            )
        return "\n".join(lines)


def ks_check(name: str, reference: Sequence[float], current: Sequence[float], *, cause: Cause = "audience") -> Check:
    """Two-sample Kolmogorov–Smirnov on a numeric feature (missing values dropped)."""
    ref = [float(v) for v in reference if v is not None and not _nan(v)]
    cur = [float(v) for v in current if v is not None and not _nan(v)]
    if not ref or not cur:
        return Check("numeric", name, cause, len(ref), len(cur), status="insufficient")
    from scipy.stats import ks_2samp  # scipy is heavy: only a monitoring run pays for it

    result = ks_2samp(ref, cur)
    detail = f"median {_median(ref):g} → {_median(cur):g}"
    statistic = float(result.statistic)
    return Check("numeric", name, cause, len(ref), len(cur), statistic, float(result.pvalue), statistic, detail)


def shares_check(
    name: str, reference: Mapping[str, int], current: Mapping[str, int], *, cause: Cause = "audience"
) -> Check:
    """Chi-square test and PSI of how two totals split into the same categories."""
    categories = sorted(set(reference) | set(current), key=str)
    ref_n = sum(int(reference.get(c, 0)) for c in categories)
    cur_n = sum(int(current.get(c, 0)) for c in categories)
    if ref_n == 0 or cur_n == 0 or len(categories) < 2:
        return Check("shares", name, cause, ref_n, cur_n, status="insufficient")
    from scipy.stats import chi2_contingency

    table = [[int(reference.get(c, 0)) for c in categories], [int(current.get(c, 0)) for c in categories]]
    kept = [i for i in range(len(categories)) if table[0][i] + table[1][i] > 0]
    statistic, p_value, _, _ = chi2_contingency([[row[i] for i in kept] for row in table], correction=False)
    # PSI with half a count added to every cell: a category absent on one side stays finite
    ref_p = [(table[0][i] + 0.5) / (ref_n + 0.5 * len(categories)) for i in range(len(categories))]
    cur_p = [(table[1][i] + 0.5) / (cur_n + 0.5 * len(categories)) for i in range(len(categories))]
    contributions = [(c - r) * math.log(c / r) for r, c in zip(ref_p, cur_p, strict=True)]
    psi = sum(contributions)
    top = max(range(len(categories)), key=lambda i: contributions[i])
    detail = f"{categories[top]}: {ref_p[top]:.1%} → {cur_p[top]:.1%}"
    return Check("shares", name, cause, ref_n, cur_n, float(statistic), float(p_value), psi, detail)


def rate_check(
    name: str,
    reference: tuple[int, int],
    current: tuple[int, int],
    *,
    cause: Cause = "audience",
) -> Check:
    """Has the rate ``hits / n`` changed? ``reference`` and ``current`` are ``(hits, n)``."""
    from tailor.experiments.stats import compare

    (ref_hits, ref_n), (cur_hits, cur_n) = reference, current
    if not ref_n or not cur_n or ref_hits + cur_hits == 0:
        return Check("rate", name, cause, ref_n, cur_n, status="insufficient")
    _, _, _, p_value = compare(reference, current)
    ref_rate, cur_rate = ref_hits / ref_n, cur_hits / cur_n
    change = (cur_rate - ref_rate) / ref_rate if ref_rate else math.inf
    detail = f"{ref_rate:.1%} → {cur_rate:.1%}"
    return Check("rate", name, cause, ref_n, cur_n, cur_rate, float(p_value), change, detail)


def volume_check(
    name: str,
    reference_count: int,
    reference_span: timedelta,
    current_count: int,
    current_span: timedelta,
    *,
    cause: Cause = "pipeline",
) -> Check:
    """Has the daily rate of something changed? Conditional binomial test of two Poisson counts."""
    total = reference_count + current_count
    ref_days = reference_span.total_seconds() / 86400
    cur_days = current_span.total_seconds() / 86400
    if total == 0:
        return Check("volume", name, cause, reference_count, current_count, status="insufficient")
    from scipy.stats import binomtest

    share = cur_days / (ref_days + cur_days)
    p_value = binomtest(current_count, total, share).pvalue
    ref_rate = reference_count / ref_days
    cur_rate = current_count / cur_days
    change = (cur_rate - ref_rate) / ref_rate if ref_rate else math.inf
    detail = f"{ref_rate:.3g}/day → {cur_rate:.3g}/day"
    return Check("volume", name, cause, reference_count, current_count, current_count, float(p_value), change, detail)


def judge(checks: Iterable[Check], thresholds: DriftThresholds, at: datetime) -> DriftReport:
    """Decide each check's status with the Bonferroni-corrected level and the effect minimums."""
    checks = list(checks)
    tested = [c for c in checks if c.status != "insufficient"]
    level = thresholds.false_alarm_rate / max(len(tested), 1)
    judged = []
    for check in checks:
        if check.status == "insufficient" or _too_few(check, thresholds):
            judged.append(_with_status(check, "insufficient"))
            continue
        big_enough = abs(check.effect) >= _minimum(check, thresholds)
        judged.append(_with_status(check, "alert" if check.p_value < level and big_enough else "ok"))
    return DriftReport(at, thresholds.window, thresholds.reference, thresholds.false_alarm_rate, tuple(judged))


def _too_few(check: Check, thresholds: DriftThresholds) -> bool:
    if check.kind == "volume":
        return check.reference_n + check.current_n < thresholds.min_samples
    return min(check.reference_n, check.current_n) < thresholds.min_samples


def _minimum(check: Check, thresholds: DriftThresholds) -> float:
    minimums = {
        "numeric": thresholds.min_ks,
        "shares": thresholds.min_psi,
        "rate": thresholds.min_rate_change,
        "volume": thresholds.min_volume_change,
    }
    return minimums[check.kind]


def _with_status(check: Check, status: Literal["ok", "alert", "insufficient"]) -> Check:
    from dataclasses import replace

    return replace(check, status=status)


def _effect_label(check: Check) -> str:
    return {"numeric": "D", "shares": "PSI", "rate": "Δ", "volume": "Δrate"}[check.kind]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _nan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g} days" if days != 1 else "1 day"
