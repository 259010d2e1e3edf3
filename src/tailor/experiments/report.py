"""The experiment report: conversion per variant, lift, confidence interval, p-value, SRM check, plan progress.

Attribution (docs/experiments.md): a recipient belongs to the arm of their *first*
exposure and converts when any of the experiment's conversion events happens within
the window after that first exposure; each secondary event (default: the ESP's
``Email Link Clicked``) is attributed the same way. Every experiment attributes on its
own, so a recipient in two experiments counts in both.

No peeking: with a ``plan:`` the verdict is made once, on the *planned sample* — every
recipient first exposed up to the moment each variant had the planned number — and only
after that sample's conversion window has closed. Before that the report says "not yet
conclusive" with the progress, and its numbers are marked interim. Because the
stopping point depends on counts only (never on the results), reading the report every
day does not raise the false-positive rate (measured in benchmarks/experiments.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from tailor.experiments.assign import HOLDOUT
from tailor.experiments.exposures import conversion_frame, exposure_frame, now_naive
from tailor.experiments.spec import Experiment
from tailor.experiments.stats import SRM_ALPHA, compare, sample_ratio_mismatch
from tailor.vocabulary.durations import format_duration

#: verdicts, in the order a reader should care about them
SRM, NO_PLAN, COLLECTING, WAITING, SIGNIFICANT, NO_DIFFERENCE, NO_DATA = (
    "srm",
    "no plan",
    "collecting",
    "waiting for conversions",
    "significant",
    "no difference detected",
    "no data",
)


@dataclass
class Metric:
    """One metric (conversion or a secondary event) of one arm, compared with the control's."""

    event: str
    conversions: int
    rate: float
    #: relative lift of the rate over the control's
    lift: float | None = None
    #: 95% interval of (rate − control rate), two-sided Wald
    diff_low: float | None = None
    diff_high: float | None = None
    #: two-proportion z-test against the control
    p_value: float | None = None


@dataclass
class ArmResult:
    variant: str
    recipients: int
    conversions: int
    rate: float
    lift: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None
    p_value: float | None = None
    secondary: list[Metric] = field(default_factory=list)


@dataclass
class Report:
    experiment: str
    control: str
    arms: list[ArmResult]
    srm_p_value: float | None
    srm: bool
    window: str
    conversion_event: str
    conversion_events: list[str] = field(default_factory=list)
    secondary_events: list[str] = field(default_factory=list)
    #: the declared plan (Plan.as_dict) or None
    plan: dict[str, Any] | None = None
    #: one of the verdict constants above, and the sentence that explains it
    status: str = NO_PLAN
    verdict: str = ""
    #: true while the numbers are not the decision (plan not reached, window still open)
    interim: bool = True
    #: the smallest variant's recipients and the plan's need (progress = smallest / needed)
    smallest_variant: int = 0
    needed: int | None = None
    #: when the planned sample was complete, and when its conversion window closes
    plan_reached_at: datetime | None = None
    decision_at: datetime | None = None
    #: recipients first exposed after the planned sample (shown in the counts over time, not in the decision)
    after_plan: int = 0
    #: new recipients per day and arm: [{"day": "2026-11-23", "control": 120, "b": 118}, …]
    daily: list[dict[str, Any]] = field(default_factory=list)
    generated_at: datetime | None = None

    @property
    def progress(self) -> float | None:
        return min(1.0, self.smallest_variant / self.needed) if self.needed else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["progress"] = self.progress
        return data


def attributed(
    exposures: pd.DataFrame, events: pd.DataFrame, names: tuple[str, ...] | list[str], window: timedelta
) -> set[str]:
    """Recipients with any of ``names`` within ``window`` after their first exposure."""
    if exposures.empty or events.empty:
        return set()
    chosen = events[events["event"].isin(list(names))] if "event" in events else events
    joined = chosen.merge(exposures[["profile_id", "exposed_at"]], on="profile_id")
    in_window = (joined["timestamp"] >= joined["exposed_at"]) & (joined["timestamp"] <= joined["exposed_at"] + window)
    return set(joined.loc[in_window, "profile_id"].tolist())


def planned_sample(
    experiment: Experiment, exposures: pd.DataFrame, needed: int
) -> tuple[pd.DataFrame, datetime | None]:
    """The recipients first exposed until every variant had ``needed`` of them, and that moment (None: not yet).

    The cut depends on arrival counts only, never on outcomes: that is what makes a
    verdict on it as valid as a test run once at a fixed size.
    """
    if exposures.empty:
        return exposures, None
    ordered = exposures.sort_values("exposed_at", kind="stable")
    moments = []
    for variant in experiment.variants:
        times = ordered.loc[ordered["variant"] == variant.name, "exposed_at"]
        if len(times) < needed:
            return ordered, None
        moments.append(times.iloc[needed - 1])
    reached = max(moments)
    return ordered[ordered["exposed_at"] <= reached], pd.Timestamp(reached).to_pydatetime(warn=False)


def build_report(
    experiment: Experiment,
    exposures: pd.DataFrame,
    conversions: pd.DataFrame,
    now: datetime | None = None,
) -> Report:
    """The report at ``now`` (default: the current UTC time) from one row per recipient and their events."""
    now = now or now_naive()
    arms = [v.name for v in experiment.variants] + ([HOLDOUT] if experiment.holdout else [])
    if not exposures.empty:
        exposures = exposures[exposures["variant"].isin(arms)]
    plan = experiment.plan
    needed = plan.needed if plan else None
    sample, reached = planned_sample(experiment, exposures, needed) if needed else (exposures, None)
    decision_at = reached + experiment.conversion_window if reached else None
    deciding = decision_at is not None and now >= decision_at
    counted = sample if deciding else exposures
    results = _arm_results(experiment, arms, counted, conversions)
    srm_p = sample_ratio_mismatch({a.variant: a.recipients for a in results}, experiment.expected_shares())
    srm = srm_p is not None and srm_p < SRM_ALPHA
    smallest = min((a.recipients for a in results if a.variant != HOLDOUT), default=0)
    report = Report(
        experiment=experiment.name,
        control=experiment.control.name,
        arms=results,
        srm_p_value=srm_p,
        srm=srm,
        window=format_duration(experiment.conversion_window),
        conversion_event=experiment.conversion_event,
        conversion_events=list(experiment.conversion_events),
        secondary_events=list(experiment.secondary_events),
        plan=plan.as_dict() if plan else None,
        interim=not deciding,
        smallest_variant=smallest,
        needed=needed,
        plan_reached_at=reached,
        decision_at=decision_at,
        after_plan=len(exposures) - len(sample) if reached else 0,
        daily=_daily(exposures, arms),
        generated_at=now,
    )
    report.status, report.verdict = _verdict(report, plan.alpha if plan else 0.05)
    return report


def _arm_results(
    experiment: Experiment, arms: list[str], exposures: pd.DataFrame, events: pd.DataFrame
) -> list[ArmResult]:
    window = experiment.conversion_window
    converted = attributed(exposures, events, experiment.conversion_events, window)
    secondary = {name: attributed(exposures, events, (name,), window) for name in experiment.secondary_events}
    members = {
        arm: exposures.loc[exposures["variant"] == arm, "profile_id"].tolist() if not exposures.empty else []
        for arm in arms
    }
    control = experiment.control.name

    def counts(who: set[str], arm: str) -> tuple[int, int]:
        return len(who.intersection(members[arm])), len(members[arm])

    results = []
    for arm in arms:
        conv, n = counts(converted, arm)
        result = ArmResult(arm, n, conv, conv / n if n else 0.0)
        if arm != control:
            result.lift, result.diff_low, result.diff_high, result.p_value = compare(
                counts(converted, control), (conv, n)
            )
        for name, who in secondary.items():
            hits, _ = counts(who, arm)
            metric = Metric(name, hits, hits / n if n else 0.0)
            if arm != control:
                metric.lift, metric.diff_low, metric.diff_high, metric.p_value = compare(
                    counts(who, control), (hits, n)
                )
            result.secondary.append(metric)
        results.append(result)
    return results


def _daily(exposures: pd.DataFrame, arms: list[str]) -> list[dict[str, Any]]:
    """New recipients per calendar day (UTC) and arm, every day from the first to the last exposure."""
    if exposures.empty:
        return []
    days = exposures["exposed_at"].dt.floor("D")
    table = exposures.groupby([days, exposures["variant"]]).size().unstack(fill_value=0)
    table = table.reindex(columns=arms, fill_value=0)
    table = table.reindex(pd.date_range(table.index.min(), table.index.max(), freq="D"), fill_value=0)
    return [
        {"day": day.date().isoformat(), **{a: int(n) for a, n in zip(arms, row, strict=True)}}
        for day, row in zip(table.index, table.to_numpy(), strict=True)
    ]


def _verdict(report: Report, alpha: float) -> tuple[str, str]:
    control = report.control
    if not any(a.recipients for a in report.arms):
        return NO_DATA, "no exposures yet: nobody has been sent this experiment"
    if report.srm:
        return SRM, (
            f"sample ratio mismatch (p = {report.srm_p_value:.2g}): the arms' sizes do not match the weights — "
            "assignment or logging is broken; do not read the results"
        )
    if report.needed is None:
        return NO_PLAN, (
            "no plan declared: these numbers are descriptive. A p-value below 0.05 only means something "
            "at a sample size fixed in advance — declare `plan: {baseline: …, mde: …}` "
            "(see `tailor experiments plan`)"
        )
    if report.plan_reached_at is None:
        pct = report.smallest_variant / report.needed
        return COLLECTING, (
            f"not yet conclusive: {report.smallest_variant:,} / {report.needed:,} recipients "
            f"in the smallest variant ({pct:.0%} of the plan) — do not decide on interim numbers"
        )
    if report.interim:
        return WAITING, (
            f"not yet conclusive: the planned {report.needed:,} per variant were reached on "
            f"{report.plan_reached_at:%Y-%m-%d %H:%M} UTC; their {report.window} conversion window closes "
            f"on {report.decision_at:%Y-%m-%d %H:%M} UTC"
        )
    winners = [
        a
        for a in report.arms
        if a.variant not in (control, HOLDOUT) and a.p_value is not None and not math.isnan(a.p_value)
    ]
    significant = [a for a in winners if a.p_value is not None and a.p_value < alpha]
    if not significant:
        return NO_DIFFERENCE, (
            f"conclusive: no difference detected at the planned size (p ≥ {alpha:g}); an effect smaller "
            "than the plan's MDE may still exist"
        )
    parts = [
        f"{a.variant} converts {'better' if (a.lift or 0) > 0 else 'worse'} than {control} "
        f"({a.lift:+.1%}, p = {a.p_value:.2g})"
        for a in significant
        if a.lift is not None and a.p_value is not None
    ]
    return SIGNIFICANT, "conclusive: " + "; ".join(parts)


def report_from_store(store: Any, experiment: Experiment, now: datetime | None = None) -> Report:
    exposures = exposure_frame(store, experiment.name)
    ids = list(exposures["profile_id"]) if not exposures.empty else []
    names = list(dict.fromkeys([*experiment.conversion_events, *experiment.secondary_events]))
    conversions = (
        conversion_frame(store, names, ids) if ids else pd.DataFrame(columns=["profile_id", "event", "timestamp"])
    )
    return build_report(experiment, exposures, conversions, now=now)


def _ci(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None or math.isnan(low) else f"[{low:+.2%}, {high:+.2%}]"


def _p(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"


def format_report(report: Report) -> str:
    """A plain table for the terminal."""
    lines = [
        f"experiment {report.experiment}: conversion = {report.conversion_event} "
        f"within {report.window} of first exposure",
        "",
        f"{'variant':<20}{'recipients':>11}{'conv.':>8}{'rate':>9}{'lift':>9}{'95% CI of diff':>22}{'p-value':>10}",
    ]
    for arm in report.arms:
        lift = "" if arm.lift is None else f"{arm.lift:+.1%}"
        name = arm.variant + (" (control)" if arm.variant == report.control else "")
        lines.append(
            f"{name:<20}{arm.recipients:>11}{arm.conversions:>8}{arm.rate:>9.2%}{lift:>9}"
            f"{_ci(arm.diff_low, arm.diff_high):>22}{_p(arm.p_value):>10}"
        )
    for index, event in enumerate(report.secondary_events):
        lines += ["", f"secondary: {event} within {report.window} of first exposure"]
        for arm in report.arms:
            m = arm.secondary[index]
            lift = "" if m.lift is None else f"{m.lift:+.1%}"
            lines.append(
                f"{arm.variant:<20}{arm.recipients:>11}{m.conversions:>8}{m.rate:>9.2%}{lift:>9}"
                f"{_ci(m.diff_low, m.diff_high):>22}{_p(m.p_value):>10}"
            )
    lines.append("")
    if report.srm_p_value is None:
        lines.append("sample ratio: not enough data")
    else:
        verdict = "MISMATCH — assignment or logging is broken, do not trust the results" if report.srm else "ok"
        lines.append(f"sample ratio check: p = {report.srm_p_value:.4f} ({verdict})")
    if report.plan:
        lines.append(
            f"plan: {report.plan['needed_per_variant']:,} per variant; "
            f"smallest variant {report.smallest_variant:,} ({report.progress:.0%})"
        )
    lines.append(f"verdict: {report.verdict}")
    return "\n".join(lines)
