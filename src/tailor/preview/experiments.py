"""Experiment results as a page: inline SVG charts (no chart library, no network) shared by the studio and the CLI.

The studio's ``/preview/experiments/<name>`` and ``tailor experiments report NAME
--format html`` render the same partial (``preview/_experiment.html``); the CLI wraps
it in a self-contained page with the stylesheet inlined, so the file can be mailed or
archived and still opens offline.
"""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup, escape

from tailor.experiments.report import Report
from tailor.experiments.spec import Experiment
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


def rate_interval(conversions: int, recipients: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson interval of one arm's rate (sensible at 0 or few conversions, unlike Wald)."""
    if not recipients:
        return 0.0, 0.0
    p = conversions / recipients
    centre = (p + z * z / (2 * recipients)) / (1 + z * z / recipients)
    half = z * math.sqrt(p * (1 - p) / recipients + z * z / (4 * recipients**2)) / (1 + z * z / recipients)
    return max(0.0, centre - half), min(1.0, centre + half)


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


def rate_chart(report: Report, width: int = 640) -> Markup:
    """Each arm's conversion rate as a dot with its 95% interval as a bar, on a shared axis from 0."""
    arms = [a for a in report.arms if a.recipients]
    if not arms:
        return Markup('<p class="muted">no recipients yet</p>')
    colours = arm_colours(report)
    intervals = {a.variant: rate_interval(a.conversions, a.recipients) for a in arms}
    top = max(high for _, high in intervals.values()) or 0.01
    top = _nice(top * 1.1)
    left, right, row = 130, 70, 30
    height = row * len(arms) + 30
    plot_w = width - left - right

    def x(rate: float) -> float:
        return left + plot_w * rate / top

    parts = [
        f'<svg class="chart rates" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="conversion rate per variant with 95% intervals" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{height - 22}" x2="{width - right}" y2="{height - 22}" class="axis"/>',
        f'<text x="{left}" y="{height - 6}" class="tick" text-anchor="middle">0%</text>',
        f'<text x="{x(top):.1f}" y="{height - 6}" class="tick" text-anchor="middle">{top:.1%}</text>',
    ]
    control = next((a for a in arms if a.variant == report.control), None)
    if control:
        cx = x(control.rate)
        parts.append(f'<line x1="{cx:.1f}" y1="4" x2="{cx:.1f}" y2="{height - 22}" class="control-line"/>')
    for index, arm in enumerate(arms):
        low, high = intervals[arm.variant]
        cy = 16 + row * index
        colour = colours.get(arm.variant, HOLDOUT_COLOUR)
        parts.append(
            f'<g class="arm" data-arm="{escape(arm.variant)}" data-rate="{arm.rate:.6f}" '
            f'data-low="{low:.6f}" data-high="{high:.6f}">'
            f'<text x="{left - 8}" y="{cy + 4}" text-anchor="end" class="label">{escape(arm.variant)}</text>'
            f'<rect class="ci" x="{x(low):.1f}" y="{cy - 4}" width="{max(x(high) - x(low), 1):.1f}" height="8" '
            f'fill="{colour}" fill-opacity="0.25" stroke="{colour}"/>'
            f'<circle cx="{x(arm.rate):.1f}" cy="{cy}" r="4.5" fill="{colour}"/>'
            f'<text x="{width - right + 6}" y="{cy + 4}" class="value">{arm.rate:.2%}</text>'
            f"<title>{escape(arm.variant)}: {arm.rate:.2%} (95% interval {low:.2%} – {high:.2%}), "
            f"{arm.conversions:,} of {arm.recipients:,}</title></g>"
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
