"""``tailor batch``: a whole campaign rendered in parallel on Dask."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tailor.cli.common import database_option, fail, require_extra, rules_option, settings_from, templates_option
from tailor.problems import ProblemError


@click.command("batch")
@click.argument("template")
@click.option(
    "--audience",
    type=click.Path(exists=True, dir_okay=False),
    help="CSV (id/email/user_id) or JSON lines of recipients or profile documents.",
)
@click.option("--segment", help="Every stored profile in this segment.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--scheduler", help="Address of a Dask scheduler (default: a local cluster).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="Local cluster size.")
@click.option("--at", help="Send time, ISO 8601 (default: now).")
@click.option("--context", "context_json", help="ESP send-time data as a JSON object.")
@templates_option
@rules_option
@database_option
def batch(
    template: str,
    audience: str | None,
    segment: str | None,
    out_dir: str,
    scheduler: str | None,
    workers: int,
    at: str | None,
    context_json: str | None,
    templates: str | None,
    rules: str | None,
    database_url: str | None,
) -> None:
    """Render TEMPLATE for a whole audience into --out, with a progress bar and a manifest."""
    from tailor.batch import read_audience, render_campaign

    require_extra("dask", "batch", "tailor batch")
    if bool(audience) == bool(segment):
        fail("give exactly one of --audience FILE or --segment NAME")
    settings = settings_from({"templates": templates, "rules": rules, "database_url": database_url})
    context = None
    if context_json:
        try:
            context = json.loads(context_json)
        except json.JSONDecodeError as exc:
            fail(f"--context: malformed JSON: {exc.msg}")
    try:
        recipients = read_audience(Path(audience)) if audience else _segment_members(settings, segment or "", at)
    except ProblemError as exc:
        fail(str(exc))
    from tailor.core import Tailor
    from tailor.email import TailorError

    try:
        Tailor(settings.templates, settings.rules, settings=settings).compile(template)
    except TailorError as exc:  # unknown or broken template: say so before starting a cluster
        fail(str(exc))
    with click.progressbar(length=len(recipients), label=f"rendering {template}", file=sys.stderr) as bar:
        summary = render_campaign(
            settings,
            template,
            recipients,
            Path(out_dir),
            scheduler=scheduler,
            workers=workers,
            at=at,
            context=context,
            progress=bar.update,
        )
    click.echo(
        f"{summary.rendered} rendered, {summary.aborted} skipped by abort rules, {summary.failed} failed → "
        f"{out_dir} (manifest: {summary.manifest})"
    )
    if summary.fallbacks:
        click.echo("fallbacks: " + ", ".join(f"{k} ×{v}" for k, v in sorted(summary.fallbacks.items())))


def _segment_members(settings, segment: str, at: str | None) -> list[dict]:
    from tailor.core import Tailor

    tailor = Tailor(settings.templates, settings.rules, settings.database_url, settings=settings)
    if tailor.store is None:
        fail(f"--segment needs a store; {settings.database_url} does not exist")
    if segment not in tailor.rulebook.segments:
        fail(f"unknown segment {segment!r} (known: {', '.join(sorted(tailor.rulebook.segments)) or 'none'})")
    members = []
    for profile_id in tailor.store.profile_ids():
        if segment in tailor.segments_of(profile_id, at):
            members.append({"id": profile_id})
    return members
