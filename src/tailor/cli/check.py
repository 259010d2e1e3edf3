"""``tailor check``: validate templates and rules, ``path:line:col: message`` per problem."""

from __future__ import annotations

from pathlib import Path

import click

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
@click.option(
    "--personas", "personas_dir", default="fixtures/personas", show_default=True, type=click.Path(file_okay=False)
)
def check(
    paths: tuple[str, ...],
    templates: str | None,
    rules: str | None,
    database_url: str | None,
    bootstrap_profile: bool,
    personas_dir: str,
) -> None:
    """Validate every template and rule file; exit 1 if any error.

    PATHS narrows the report to problems in those files or folders.
    """
    tailor = tailor_from(templates, rules, database_url)
    if bootstrap_profile:
        _bootstrap_profile(tailor, Path(personas_dir))
    problems = tailor.check()
    if paths:
        problems = [p for p in problems if any(p.path.startswith(x.rstrip("/")) or x.endswith(p.path) for x in paths)]
    for problem in problems:
        click.echo(str(problem))
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
