"""``tailor experiments report NAME``: per-variant results with lift and confidence intervals."""

from __future__ import annotations

import json

import click

from tailor.cli.common import database_option, fail, rules_option, settings_from


@click.group("experiments")
def experiments() -> None:
    """A/B experiments declared in rules/*.yaml."""


@experiments.command("report")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@rules_option
@database_option
def report(name: str, fmt: str, rules: str | None, database_url: str | None) -> None:
    """Conversion, lift, 95% CI, p-value per variant, and a sample-ratio check."""
    from tailor.experiments import format_report, load_experiments, report_from_store
    from tailor.store import Store

    settings = settings_from({"rules": rules, "database_url": database_url})
    found, problems = load_experiments(settings.rules)
    if name not in found:
        fail(f"unknown experiment {name!r} (known: {', '.join(sorted(found)) or 'none'})")
    store = Store(settings.database_url)
    store.migrate()
    result = report_from_store(store, found[name])
    click.echo(json.dumps(result.as_dict(), indent=2, default=str) if fmt == "json" else format_report(result))
