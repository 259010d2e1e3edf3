"""``tailor check``: validate templates and rules, ``path:line:col: message`` per problem."""

from __future__ import annotations

from typing import Any

import click

from tailor.cli.check_runs import check_run_options, run_extras
from tailor.cli.common import rules_option, tailor_from, templates_option


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@templates_option
@rules_option
@check_run_options
def check(paths: tuple[str, ...], templates: str | None, rules: str | None, **extras: Any) -> None:
    """Validate every template and rule file; exit 1 if any error.

    PATHS narrows the report to problems in those files or folders. --coverage adds the
    rules and blocks no persona reaches (a dead rule is an error); --audience FILE or
    --segment NAME (or --sample N) renders that audience without sending and reports
    reach per block, fallback rate per field, aborts by reason and rules never matched.
    """
    tailor = tailor_from(templates, rules, None)
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
