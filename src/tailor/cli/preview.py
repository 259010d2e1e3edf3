"""``tailor preview``: render every template × every persona into a static site."""

from __future__ import annotations

from pathlib import Path

import click

from tailor.cli.common import database_option, fail, rules_option, tailor_from, templates_option
from tailor.preview.personas import load_personas
from tailor.preview.static import build_static_preview
from tailor.problems import ProblemError


@click.command("preview")
@click.option("--out", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False))
@click.option(
    "--personas", "personas_dir", default="fixtures/personas", show_default=True, type=click.Path(file_okay=False)
)
@click.option("--at", help="Send time, ISO 8601 (default: now).")
@click.option(
    "--show-emails", is_flag=True, help="Do not mask email addresses (masked by default: previews get shared)."
)
@templates_option
@rules_option
@database_option
def preview(
    out_dir: str,
    personas_dir: str,
    at: str | None,
    show_emails: bool,
    templates: str | None,
    rules: str | None,
    database_url: str | None,
) -> None:
    """Render every template for every persona to static HTML files plus an index page."""
    try:
        personas = load_personas(Path(personas_dir))
    except ProblemError as exc:
        fail(str(exc))
    if not personas:
        fail(f"no personas (*.json) in {personas_dir}")
    tailor = tailor_from(templates, rules, database_url)
    results = build_static_preview(tailor, personas, Path(out_dir), at=at, mask=not show_emails)
    failed = [r for r in results if r.error]
    click.echo(f"wrote {len(results)} previews ({len(failed)} refused) to {Path(out_dir) / 'index.html'}")
    for r in failed:
        click.echo(f"  {r.template} × {r.persona}: {r.error}", err=True)
