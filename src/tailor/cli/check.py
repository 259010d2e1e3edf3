"""``tailor check``: validate templates and rules, ``path:line:col: message`` per problem."""

from __future__ import annotations

import click

from tailor.cli.common import rules_option, tailor_from, templates_option


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@templates_option
@rules_option
def check(paths: tuple[str, ...], templates: str | None, rules: str | None) -> None:
    """Validate every template and rule file; exit 1 if any error.

    PATHS narrows the report to problems in those files or folders.
    """
    tailor = tailor_from(templates, rules, None)
    problems = tailor.check()
    if paths:
        problems = [p for p in problems if any(p.path.startswith(x.rstrip("/")) or x.endswith(p.path) for x in paths)]
    for problem in problems:
        click.echo(str(problem))
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    click.echo(f"{len(tailor.template_names())} templates checked: {errors} error(s), {warnings} warning(s)", err=True)
    raise SystemExit(1 if errors else 0)
