"""A/B experiments: YAML variants, sticky hash assignment, exposures at render, a report."""

from tailor.experiments.assign import HOLDOUT, assign, bucket
from tailor.experiments.report import Report, build_report, format_report, report_from_store
from tailor.experiments.spec import Experiment, Variant, load_experiments

__all__ = [
    "Experiment",
    "Variant",
    "HOLDOUT",
    "assign",
    "bucket",
    "load_experiments",
    "Report",
    "build_report",
    "format_report",
    "report_from_store",
]
