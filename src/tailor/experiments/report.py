"""The experiment report: conversion per variant, lift, confidence interval, p-value, SRM check."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from scipy import stats

from tailor.experiments.assign import HOLDOUT
from tailor.experiments.exposures import conversion_frame, exposure_frame
from tailor.experiments.spec import Experiment

#: a sample-ratio mismatch is flagged below this p-value (the usual, strict threshold)
SRM_ALPHA = 0.001


@dataclass
class ArmResult:
    variant: str
    recipients: int
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
class Report:
    experiment: str
    control: str
    arms: list[ArmResult]
    srm_p_value: float | None
    srm: bool
    window: str
    conversion_event: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    control: tuple[int, int], arm: tuple[int, int], confidence: float = 0.95
) -> tuple[float | None, float, float, float]:
    """(lift, diff_low, diff_high, p_value) of ``arm`` = (conversions, n) against ``control``."""
    (c_conv, c_n), (a_conv, a_n) = control, arm
    if not c_n or not a_n:
        return None, math.nan, math.nan, math.nan
    p_c, p_a = c_conv / c_n, a_conv / a_n
    lift = (p_a - p_c) / p_c if p_c else None
    z = stats.norm.ppf(0.5 + confidence / 2)
    se = math.sqrt(p_a * (1 - p_a) / a_n + p_c * (1 - p_c) / c_n)
    pooled = (a_conv + c_conv) / (a_n + c_n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / a_n + 1 / c_n))
    p_value = 2 * stats.norm.sf(abs(p_a - p_c) / se_pooled) if se_pooled else 1.0
    return lift, p_a - p_c - z * se, p_a - p_c + z * se, float(p_value)


def sample_ratio_mismatch(observed: dict[str, int], expected_shares: dict[str, float]) -> float | None:
    """Chi-square p-value of the arm sizes against the configured weights."""
    names = [n for n in expected_shares if expected_shares[n] > 0]
    total = sum(observed.get(n, 0) for n in names)
    if total == 0 or len(names) < 2:
        return None
    share_sum = sum(expected_shares[n] for n in names)
    expected = [total * expected_shares[n] / share_sum for n in names]
    return float(stats.chisquare([observed.get(n, 0) for n in names], expected).pvalue)


def build_report(experiment: Experiment, exposures: pd.DataFrame, conversions: pd.DataFrame) -> Report:
    """Attribute a conversion to a recipient when it happens within the window after their first exposure."""
    arms = [v.name for v in experiment.variants] + ([HOLDOUT] if experiment.holdout else [])
    converted: set[str] = set()
    if not exposures.empty and not conversions.empty:
        joined = conversions.merge(exposures, on="profile_id")
        in_window = (joined["timestamp"] >= joined["exposed_at"]) & (
            joined["timestamp"] <= joined["exposed_at"] + experiment.conversion_window
        )
        converted = set(joined.loc[in_window, "profile_id"])
    counts: dict[str, tuple[int, int]] = {}
    for arm in arms:
        members = exposures.loc[exposures["variant"] == arm, "profile_id"] if not exposures.empty else []
        n = len(members)
        counts[arm] = (sum(1 for p in members if p in converted), n)
    control = experiment.control.name
    results = []
    for arm in arms:
        conv, n = counts[arm]
        result = ArmResult(arm, n, conv, conv / n if n else 0.0)
        if arm != control:
            lift, low, high, p_value = compare(counts[control], counts[arm])
            result.lift, result.diff_low, result.diff_high, result.p_value = lift, low, high, p_value
        results.append(result)
    srm_p = sample_ratio_mismatch({arm: counts[arm][1] for arm in arms}, experiment.expected_shares())
    return Report(
        experiment.name,
        control,
        results,
        srm_p,
        srm_p is not None and srm_p < SRM_ALPHA,
        str(experiment.conversion_window),
        experiment.conversion_event,
    )


def report_from_store(store: Any, experiment: Experiment) -> Report:
    exposures = exposure_frame(store, experiment.name)
    ids = list(exposures["profile_id"]) if not exposures.empty else []
    conversions = (
        conversion_frame(store, experiment.conversion_event, ids)
        if ids
        else pd.DataFrame(columns=["profile_id", "timestamp"])
    )
    return build_report(experiment, exposures, conversions)


def format_report(report: Report) -> str:
    """A plain table for the terminal."""
    lines = [
        f"experiment {report.experiment}: "
        f"conversion = {report.conversion_event} within {report.window} of first exposure",
        "",
        f"{'variant':<14}{'recipients':>11}{'conv.':>8}{'rate':>9}{'lift':>9}{'95% CI of diff':>22}{'p-value':>10}",
    ]
    for arm in report.arms:
        lift = "" if arm.lift is None else f"{arm.lift:+.1%}"
        ci = "" if arm.diff_low is None or math.isnan(arm.diff_low) else f"[{arm.diff_low:+.2%}, {arm.diff_high:+.2%}]"
        p = "" if arm.p_value is None or math.isnan(arm.p_value) else f"{arm.p_value:.4f}"
        name = arm.variant + (" (control)" if arm.variant == report.control else "")
        lines.append(f"{name:<14}{arm.recipients:>11}{arm.conversions:>8}{arm.rate:>9.2%}{lift:>9}{ci:>22}{p:>10}")
    lines.append("")
    if report.srm_p_value is None:
        lines.append("sample ratio: not enough data")
    else:
        verdict = "MISMATCH — assignment or logging is broken, do not trust the results" if report.srm else "ok"
        lines.append(f"sample ratio check: p = {report.srm_p_value:.4f} ({verdict})")
    return "\n".join(lines)
