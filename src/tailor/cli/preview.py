"""``tailor preview``: render every template × every persona into a static site."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import click

from tailor.cli.common import database_option, fail, rules_option, tailor_from, templates_option
from tailor.preview.panel import email_checks, failed_check
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
@click.option(
    "--allow-refused",
    "allowed",
    multiple=True,
    metavar="PERSONA",
    help="A persona whose refusal is expected (an abort rule's persona); a glob such as 'abort-*'; repeatable.",
)
@templates_option
@rules_option
@database_option
def preview(
    out_dir: str,
    personas_dir: str,
    at: str | None,
    show_emails: bool,
    allowed: tuple[str, ...],
    templates: str | None,
    rules: str | None,
    database_url: str | None,
) -> None:
    """Render every template for every persona to static HTML files plus an index page.

    Exits 1 when a render is refused (unless --allow-refused names the persona) or an email
    check fails (images without alt text, HTML past Gmail's clipping size).
    """
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
    unexpected = [r for r in failed if not any(fnmatch(r.persona, pattern) for pattern in allowed)]
    for r in failed:
        note = "" if r in unexpected else " (expected)"
        click.echo(f"  {r.template} × {r.persona}: {r.error}{note}", err=True)
    failing = [(r, c) for r in results if r.email is not None for c in email_checks(r.email.html) if failed_check(c)]
    for r, c in failing:
        click.echo(f"  {r.template} × {r.persona}: check failed: {c.name} ({c.detail})", err=True)
    if unexpected or failing:
        raise SystemExit(1)
