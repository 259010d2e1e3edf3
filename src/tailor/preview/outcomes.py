"""The outcomes report as a studio page: per dimension, a table and a chart of conversion rates.

Each chart shows every row's conversion rate with its 95% interval (the experiments
page's :func:`~tailor.preview.experiments.interval_chart`) and the control group's rate
as a line when there is a control group, so what beats "no personalization" stands out.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from tailor.monitor.outcomes import DIMENSIONS, OutcomeReport
from tailor.preview.experiments import HOLDOUT_COLOUR, PALETTE, Interval, interval_chart


def view(report: OutcomeReport) -> dict[str, Any]:
    """What ``preview/outcomes.html`` needs: the report and one chart per dimension."""
    control = report.row("control", "control group")
    baseline = control.conversions.rate if control is not None else None
    charts: dict[str, Markup] = {}
    for index, dimension in enumerate(DIMENSIONS):
        rows = report.rows_of(dimension)
        if not rows:
            continue
        colour = HOLDOUT_COLOUR if dimension == "control" else PALETTE[index % len(PALETTE)]
        bars = [
            Interval(
                row.value,
                row.conversions.rate,
                row.conversions.low,
                row.conversions.high,
                colour,
                f"{row.conversions.hits:,} of {row.sends:,} sends",
            )
            for row in rows
        ]
        label = f"conversion rate per {dimension} with 95% intervals"
        charts[dimension] = interval_chart(bars, label, baseline=baseline, width=760, css_class=f"rates {dimension}")
    return {"report": report, "charts": charts, "dimensions": [d for d in DIMENSIONS if d in charts]}
