"""``tailor experiments report NAME`` (results) and ``tailor experiments plan`` (sample size before starting)."""

from __future__ import annotations

import json

import click

from tailor.cli.common import database_option, fail, rules_option, settings_from


@click.group("experiments")
def experiments() -> None:
    """A/B experiments declared in rules/*.yaml."""


@experiments.command("report")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "table", "json", "html"]),
    default="text",
    show_default=True,
    help="text (table is the same), json, or html: a self-contained page, as in the preview studio",
)
@rules_option
@database_option
def report(name: str, fmt: str, rules: str | None, database_url: str | None) -> None:
    """Conversion, lift, 95% CI, p-value per variant, a sample-ratio check and the plan's progress."""
    from tailor.experiments import format_report, load_experiments, report_from_store
    from tailor.store import Store

    settings = settings_from({"rules": rules, "database_url": database_url})
    found, problems = load_experiments(settings.rules)
    if name not in found:
        mine = [p for p in problems if f"experiment {name!r}" in p.message]
        if mine:
            fail("\n".join(str(p) for p in mine))
        fail(f"unknown experiment {name!r} (known: {', '.join(sorted(found)) or 'none'})")
    store = Store(settings.database_url)
    store.migrate()
    result = report_from_store(store, found[name])
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2, default=str))
    elif fmt == "html":
        from tailor.preview.experiments import standalone_page

        click.echo(standalone_page(result, found[name]))
    else:
        click.echo(format_report(result))


@experiments.command("plan")
@click.option("--baseline", required=True, help="the control's expected conversion rate: 0.03 or 3%")
@click.option(
    "--mde", required=True, help="minimum detectable effect: 10% (relative to the baseline) or 0.3pp (absolute)"
)
@click.option("--power", default="0.8", show_default=True, help="chance of detecting an effect of the MDE")
@click.option("--alpha", default="0.05", show_default=True, help="false-positive rate (two-sided)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plan(baseline: str, mde: str, power: str, alpha: str, fmt: str) -> None:
    """Recipients needed per variant before the report can conclude (two-sided two-proportion z-test)."""
    from tailor.experiments.stats import make_plan

    try:
        planned = make_plan(baseline, mde, power, alpha)
    except ValueError as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps(planned.as_dict(), indent=2))
        return
    click.echo(f"{planned.needed:,} recipients per variant")
    click.echo(planned.describe())
    click.echo(
        f"declare it in the experiment so the report waits for it: plan: {{baseline: {planned.baseline:g}, mde: {mde}}}"
    )
