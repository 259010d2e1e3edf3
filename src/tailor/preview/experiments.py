"""Experiment results as a page: inline SVG charts (no chart library, no network) shared by the studio and the CLI.

The studio's ``/preview/experiments/<name>`` and ``tailor experiments report NAME
--format html`` render the same partial (``preview/_experiment.html``); the CLI wraps
it in a self-contained page with the stylesheet inlined, so the file can be mailed or
archived and still opens offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from tailor.experiments.report import Report
from tailor.experiments.spec import Experiment
from tailor.experiments.stats import wilson_interval
from tailor.preview.ui import stylesheet, ui_env

#: one colour per arm, in order (control first); the holdout is grey
PALETTE = ("#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#0b7285", "#c2255c")
HOLDOUT_COLOUR = "#868e96"


def arm_colours(report: Report) -> dict[str, str]:
    colours = {}
    for index, arm in enumerate(a for a in report.arms if a.variant != "holdout"):
        colours[arm.variant] = PALETTE[index % len(PALETTE)]
    colours["holdout"] = HOLDOUT_COLOUR
    return colours


def rate_interval(conversions: int, recipients: int) -> tuple[float, float]:
    """95% Wilson interval of one arm's rate (sensible at 0 or few conversions, unlike Wald)."""
    return wilson_interval(conversions, recipients)


def exposure_chart(report: Report, width: int = 640, height: int = 220) -> Markup:
    """Cumulative recipients per arm by day, with the plan's target as a dashed line."""
    if not report.daily:
        return Markup('<p class="muted">no exposures yet</p>')
    arms = [a.variant for a in report.arms]
    colours = arm_colours(report)
    totals = {arm: 0 for arm in arms}
    series: dict[str, list[int]] = {arm: [] for arm in arms}
    for row in report.daily:
        for arm in arms:
            totals[arm] += row.get(arm, 0)
            series[arm].append(totals[arm])
    top = max([*totals.values(), report.needed or 0, 1])
    left, right, upper, lower = 56, 12, 12, 28
    plot_w, plot_h = width - left - right, height - upper - lower
    days = len(report.daily)

    def x(i: int) -> float:
        return left + (plot_w * i / (days - 1) if days > 1 else plot_w / 2)

    def y(value: float) -> float:
        return upper + plot_h * (1 - value / top)

    parts = [
        f'<svg class="chart exposures" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="recipients per variant over time" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{y(0)}" x2="{width - right}" y2="{y(0)}" class="axis"/>',
        f'<line x1="{left}" y1="{upper}" x2="{left}" y2="{y(0)}" class="axis"/>',
        f'<text x="{left - 6}" y="{y(0)}" text-anchor="end" class="tick">0</text>',
        f'<text x="{left - 6}" y="{upper + 8}" text-anchor="end" class="tick">{top:,}</text>',
        f'<text x="{left}" y="{height - 8}" class="tick">{escape(report.daily[0]["day"])}</text>',
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end" class="tick">'
        f"{escape(report.daily[-1]['day'])}</text>",
    ]
    if report.needed:
        parts.append(
            f'<line x1="{left}" y1="{y(report.needed):.1f}" x2="{width - right}" y2="{y(report.needed):.1f}" '
            f'class="plan-line"><title>plan: {report.needed:,} per variant</title></line>'
        )
    for arm in arms:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(series[arm]))
        parts.append(
            f'<polyline data-arm="{escape(arm)}" points="{points}" fill="none" stroke="{colours[arm]}" '
            f'stroke-width="2"><title>{escape(arm)}: {totals[arm]:,} recipients</title></polyline>'
        )
        if days == 1:
            parts.append(f'<circle cx="{x(0):.1f}" cy="{y(series[arm][0]):.1f}" r="3" fill="{colours[arm]}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Interval:
    """One row of an :func:`interval_chart`: a rate with its 95% interval."""

    label: str
    rate: float
    low: float
    high: float
    colour: str
    #: the hover text after the label (``"12 of 400"``)
    detail: str = ""


def rate_chart(report: Report, width: int = 640) -> Markup:
    """Each arm's conversion rate as a dot with its 95% interval as a bar, on a shared axis from 0."""
    arms = [a for a in report.arms if a.recipients]
    if not arms:
        return Markup('<p class="muted">no recipients yet</p>')
    colours = arm_colours(report)
    rows = []
    for arm in arms:
        low, high = rate_interval(arm.conversions, arm.recipients)
        colour = colours.get(arm.variant, HOLDOUT_COLOUR)
        detail = f"{arm.conversions:,} of {arm.recipients:,}"
        rows.append(Interval(arm.variant, arm.rate, low, high, colour, detail))
    control = next((a for a in arms if a.variant == report.control), None)
    return interval_chart(
        rows, "conversion rate per variant with 95% intervals", baseline=control.rate if control else None, width=width
    )


def interval_chart(
    rows: list[Interval], label: str, *, baseline: float | None = None, width: int = 640, css_class: str = "rates"
) -> Markup:
    """Rates as dots with their 95% intervals as bars on a shared axis from 0; ``baseline`` as a line.

    Each row is a ``<g class="arm" data-arm=… data-rate=… data-low=… data-high=…>`` so
    tests and scripts can read the numbers back off the page.
    """
    if not rows:
        return Markup('<p class="muted">nothing to show yet</p>')
    top = _nice(max(max(r.high for r in rows), baseline or 0.0, 0.001) * 1.1)
    left = max(130, 7 * max(len(r.label) for r in rows) + 16)
    right, row_height = 70, 30
    height = row_height * len(rows) + 30
    plot_w = width - left - right

    def x(rate: float) -> float:
        return left + plot_w * rate / top

    parts = [
        f'<svg class="chart {css_class}" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{height - 22}" x2="{width - right}" y2="{height - 22}" class="axis"/>',
        f'<text x="{left}" y="{height - 6}" class="tick" text-anchor="middle">0%</text>',
        f'<text x="{x(top):.1f}" y="{height - 6}" class="tick" text-anchor="middle">{top:.1%}</text>',
    ]
    if baseline is not None:
        cx = x(baseline)
        parts.append(f'<line x1="{cx:.1f}" y1="4" x2="{cx:.1f}" y2="{height - 22}" class="control-line"/>')
    for index, item in enumerate(rows):
        cy = 16 + row_height * index
        parts.append(
            f'<g class="arm" data-arm="{escape(item.label)}" data-rate="{item.rate:.6f}" '
            f'data-low="{item.low:.6f}" data-high="{item.high:.6f}">'
            f'<text x="{left - 8}" y="{cy + 4}" text-anchor="end" class="label">{escape(item.label)}</text>'
            f'<rect class="ci" x="{x(item.low):.1f}" y="{cy - 4}" width="{max(x(item.high) - x(item.low), 1):.1f}" '
            f'height="8" fill="{item.colour}" fill-opacity="0.25" stroke="{item.colour}"/>'
            f'<circle cx="{x(item.rate):.1f}" cy="{cy}" r="4.5" fill="{item.colour}"/>'
            f'<text x="{width - right + 6}" y="{cy + 4}" class="value">{item.rate:.2%}</text>'
            f"<title>{escape(item.label)}: {item.rate:.2%} (95% interval {item.low:.2%} – {item.high:.2%})"
            f"{', ' + escape(item.detail) if item.detail else ''}</title></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice(value: float) -> float:
    """The next round axis maximum (1, 2, 2.5, 5 × 10^k) at or above ``value``."""
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * 10**exponent >= value:
            return float(step * 10**exponent)
    return float(10 ** (exponent + 1))


def view(report: Report, experiment: Experiment) -> dict[str, Any]:
    """What ``preview/_experiment.html`` needs."""
    return {
        "report": report,
        "experiment": experiment,
        "colours": arm_colours(report),
        "exposure_svg": exposure_chart(report),
        "rate_svg": rate_chart(report),
        "intervals": {a.variant: rate_interval(a.conversions, a.recipients) for a in report.arms},
    }


def standalone_page(report: Report, experiment: Experiment) -> str:
    """One HTML file with everything inline (no stylesheet link, no script, no network)."""
    template = ui_env().get_template("preview/experiment_page.html")
    return template.render(css=Markup(stylesheet()), **view(report, experiment))
