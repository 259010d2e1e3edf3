"""``tailor check``: validate templates and rules, ``path:line:col: message`` per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tailor.cli.check_runs import DEFAULT_PERSONAS, check_run_options, run_extras
from tailor.cli.common import database_option, rules_option, tailor_from, templates_option
from tailor.core import Tailor


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@templates_option
@rules_option
@database_option
@click.option(
    "--bootstrap-profile",
    is_flag=True,
    help="First write rules/profile.yaml (the traits a profile can have) from the store and the personas.",
)
@check_run_options
def check(
    paths: tuple[str, ...],
    templates: str | None,
    rules: str | None,
    database_url: str | None,
    bootstrap_profile: bool,
    **extras: Any,
) -> None:
    """Validate every template and rule file; exit 1 if any error.

    PATHS narrows the report to problems in those files or folders. --coverage adds the
    rules and blocks no persona reaches (a dead rule is an error); --audience FILE or
    --segment NAME (or --sample N) renders that audience without sending and reports
    reach per block, fallback rate per field, aborts by reason and rules never matched.
    """
    tailor = tailor_from(templates, rules, database_url)
    if bootstrap_profile:
        _bootstrap_profile(tailor, Path((extras.get("personas_dirs") or (DEFAULT_PERSONAS,))[0]))
    problems = tailor.check()
    extra_problems, report = run_extras(tailor, extras)
    problems = sorted(set(problems) | set(extra_problems))
    if paths:
        problems = [p for p in problems if any(p.path.startswith(x.rstrip("/")) or x.endswith(p.path) for x in paths)]
    for problem in problems:
        click.echo(str(problem))
    for line in report:
        click.echo(line)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    click.echo(f"{len(tailor.template_names())} templates checked: {errors} error(s), {warnings} warning(s)", err=True)
    raise SystemExit(1 if errors else 0)


def _bootstrap_profile(tailor: Tailor, personas_dir: Path) -> None:
    from tailor.checks.profile_schema import bootstrap_from

    path, written = bootstrap_from(tailor.rules_dir, tailor.store, personas_dir)
    click.echo(
        f"wrote {path}: {len(written['profile'])} traits, {len(written.get('products', []))} catalog columns", err=True
    )
