"""Where monitoring reports go besides the terminal: a signed webhook and Prometheus gauges.

The webhook is POSTed like a trigger notification (:func:`tailor.triggers.scan.post`):
signed with the first ``TAILOR_SECRET``, bounded retries, a capped answer, and an
``Idempotency-Key`` naming the report, so a receiver that sees a retry can drop it.
The gauges are written in the Prometheus text format to a file, which is how a
scheduled job reports to a node exporter's textfile collector (a short-lived CLI has
no ``/metrics`` to scrape).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from tailor.monitor.drift import DriftReport
from tailor.monitor.outcomes import OutcomeReport


def post_alert(report: DriftReport, url: str, secret: str | None, **delivery: Any) -> tuple[bool, str | None]:
    """POST the report to ``url`` when it has alerts; ``(acknowledged, last error)``."""
    from tailor.triggers.scan import Delivery, post

    body = {"type": "tailor.drift.alert", **report.to_dict()}
    names = ",".join(sorted(c.name for c in report.alerts))
    key = "drift-" + hashlib.sha256(f"{report.at.isoformat()}|{names}".encode()).hexdigest()[:32]
    acknowledged, _, error = post(Delivery(url=url, secret=secret, **delivery), body, key)
    return acknowledged, error


def write_gauges(report: DriftReport, path: str | os.PathLike[str]) -> None:
    """Each check's effect, p-value and alert state as gauges, atomically replacing ``path``."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    effect = Gauge(
        "tailor_drift_effect", "Drift effect: KS D, PSI or relative rate change", ["kind", "check"], registry=registry
    )
    p_value = Gauge("tailor_drift_p_value", "Drift test p-value", ["kind", "check"], registry=registry)
    alert = Gauge(
        "tailor_drift_alert", "1 when the check alerts, else 0", ["kind", "check", "cause"], registry=registry
    )
    for check in report.checks:
        if check.status == "insufficient":
            continue
        effect.labels(check.kind, check.name).set(check.effect)
        p_value.labels(check.kind, check.name).set(check.p_value)
        alert.labels(check.kind, check.name, check.cause).set(1 if check.status == "alert" else 0)
    Gauge("tailor_drift_alerts", "Checks alerting in the last drift report", registry=registry).set(len(report.alerts))
    write_to_textfile(str(path), registry)


def write_outcome_gauges(report: OutcomeReport, path: str | os.PathLike[str]) -> None:
    """Sends and rates per dimension and value as gauges, atomically replacing ``path``."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    labels = ["dimension", "value"]
    sends = Gauge("tailor_outcome_sends", "Settled sends in the report window", labels, registry=registry)
    rates = {
        name: Gauge(f"tailor_outcome_{name}_rate", f"Share of settled sends with a {name}", labels, registry=registry)
        for name in ("click", "conversion")
    }
    revenue = Gauge("tailor_outcome_revenue_per_send", "Attributed revenue per settled send", labels, registry=registry)
    for row in report.rows:
        sends.labels(row.dimension, row.value).set(row.sends)
        rates["click"].labels(row.dimension, row.value).set(row.clicks.rate)
        rates["conversion"].labels(row.dimension, row.value).set(row.conversions.rate)
        revenue.labels(row.dimension, row.value).set(row.revenue_per_send)
    write_to_textfile(str(path), registry)
