"""A/B experiments: YAML variants, sticky hash assignment, exposures at render, a report.

Assignment and the spec are imported eagerly (the render path needs them); the report
pulls in pandas and scipy, so it is imported on first use (``tailor.experiments.Report``
still works).
"""

from typing import Any

from tailor.experiments.assign import HOLDOUT, assign, bucket
from tailor.experiments.spec import Experiment, Variant, experiments_from, load_experiments
from tailor.experiments.stats import Plan, make_plan

_REPORT = {"Report", "build_report", "format_report", "report_from_store"}

__all__ = [
    "Experiment",
    "Variant",
    "HOLDOUT",
    "Plan",
    "assign",
    "bucket",
    "experiments_from",
    "load_experiments",
    "make_plan",
    "Report",
    "build_report",
    "format_report",
    "report_from_store",
]


def __getattr__(name: str) -> Any:
    if name in _REPORT:
        from tailor.experiments import report

        return getattr(report, name)
    raise AttributeError(f"module 'tailor.experiments' has no attribute {name!r}")
