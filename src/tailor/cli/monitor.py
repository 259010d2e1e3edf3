"""``tailor monitor drift``: has what tailor sees moved since the reference window?"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from tailor.cli.common import database_option, fail, rules_option, settings_from, templates_option


@click.group("monitor")
def monitor() -> None:
    """Watch personalization work: drift of inputs (docs/monitoring.md)."""


@monitor.command("drift")
@templates_option
@rules_option
@database_option
@click.option("--at", "at_text", help="End of the recent window, ISO 8601 (default: now).")
@click.option("--window", help="Recent window, e.g. 7d (default: monitor: drift: window: in rules/, else 7d).")
@click.option(
    "--reference", help="Reference window before it, e.g. 28d (default: monitor: drift: reference:, else 28d)."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--segments/--no-segments", default=True, show_default=True, help="Compare segment membership too.")
@click.option(
    "--alert", "send_alert", is_flag=True, help="POST the report to the drift webhook (rules/) when it alerts."
)
@click.option("--prom-file", type=click.Path(dir_okay=False), help="Write Prometheus gauges to this file.")
@click.option("--fail-on-alert", is_flag=True, help="Exit with status 3 when any check alerts (for schedulers).")
def drift(
    templates: str | None,
    rules: str | None,
    database_url: str | None,
    at_text: str | None,
    window: str | None,
    reference: str | None,
    fmt: str,
    segments: bool,
    send_alert: bool,
    prom_file: str | None,
    fail_on_alert: bool,
) -> None:
    """Compare the recent window with the one before it: volumes, mixes, features, segments."""
    from dataclasses import replace

    from tailor.core import Tailor
    from tailor.monitor.alerts import post_alert, write_gauges
    from tailor.monitor.config import load_thresholds
    from tailor.monitor.drift import judge
    from tailor.monitor.sources import drift_checks
    from tailor.store import Store
    from tailor.vocabulary.durations import parse_duration
    from tailor.vocabulary.times import to_utc

    settings = settings_from({"templates": templates, "rules": rules, "database_url": database_url})
    thresholds, problems = load_thresholds(settings.rules)
    if problems:
        fail("the monitor settings have errors:\n" + "\n".join(str(p) for p in problems))
    try:
        if window is not None:
            thresholds = replace(thresholds, window=parse_duration(window))
        if reference is not None:
            thresholds = replace(thresholds, reference=parse_duration(reference))
    except ValueError as exc:
        fail(f"--window/--reference: {exc}")
    at = to_utc(at_text) if at_text else datetime.now(UTC)
    if at is None:
        fail(f"--at: not an ISO 8601 time: {at_text!r}")
    # segment membership needs the rules: a Tailor over the store, else the store alone
    engine = Tailor(settings.templates, settings.rules, settings.database_url, settings=settings) if segments else None
    store = engine.store if engine is not None else Store(settings.database_url)
    if store is None:
        fail(f"no store at {settings.database_url} (load one with `tailor ingest`)")
    try:
        segments_of = engine.segments_of if engine is not None else None
        report = judge(drift_checks(store, at, thresholds, segments_of=segments_of), thresholds, at)
    finally:
        store.close()
    click.echo(json.dumps(report.to_dict(), indent=2) if fmt == "json" else report.to_text())
    if prom_file:
        write_gauges(report, prom_file)
    if send_alert and report.alerts:
        if not thresholds.webhook:
            fail("--alert: no monitor: drift: webhook: is set in rules/")
        acknowledged, error = post_alert(report, thresholds.webhook, settings.secret[0] if settings.secret else None)
        if not acknowledged:
            fail(f"the alert webhook did not acknowledge: {error}")
        click.echo(f"alert sent to {thresholds.webhook}", err=True)
    if fail_on_alert and report.alerts:
        sys.exit(3)


@monitor.command("outcomes")
@templates_option
@rules_option
@database_option
@click.option("--since", "since_text", help="First send time, ISO 8601 (default: 28 days before --until).")
@click.option("--until", "until_text", help="Sends before this time, ISO 8601 (default: now).")
@click.option("--at", "at_text", help="Read the outcomes as of this time, ISO 8601 (default: now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--prom-file", type=click.Path(dir_okay=False), help="Write Prometheus gauges to this file.")
def outcomes_command(
    templates: str | None,
    rules: str | None,
    database_url: str | None,
    since_text: str | None,
    until_text: str | None,
    at_text: str | None,
    fmt: str,
    prom_file: str | None,
) -> None:
    """Sends, click and conversion rates, revenue and lift per template, block, rule, segment, recommender."""
    from datetime import timedelta

    from tailor.monitor.alerts import write_outcome_gauges
    from tailor.monitor.config import load_monitor
    from tailor.monitor.outcomes import report_from_store
    from tailor.store import Store
    from tailor.vocabulary.times import to_utc

    settings = settings_from({"templates": templates, "rules": rules, "database_url": database_url})
    monitoring, problems = load_monitor(settings.rules)
    if problems:
        fail("the monitor settings have errors:\n" + "\n".join(str(p) for p in problems))
    moments = {}
    for name, text in (("--until", until_text), ("--at", at_text), ("--since", since_text)):
        if text is not None:
            moments[name] = to_utc(text)
            if moments[name] is None:
                fail(f"{name}: not an ISO 8601 time: {text!r}")
    now = datetime.now(UTC)
    until = moments.get("--until") or now
    since = moments.get("--since") or until - timedelta(days=28)
    at = moments.get("--at") or now
    store = Store(settings.database_url)
    try:
        store.migrate()
        report = report_from_store(store, monitoring.outcomes, since=since, until=until, at=at)
    finally:
        store.close()
    click.echo(json.dumps(report.to_dict(), indent=2) if fmt == "json" else report.to_text())
    if prom_file:
        write_outcome_gauges(report, prom_file)
