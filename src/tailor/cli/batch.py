"""``tailor batch``: a whole campaign rendered in parallel on Dask."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tailor.cli.common import database_option, fail, rules_option, settings_from, templates_option
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
@click.option("--deliver", "deliver_url", help="Then send each rendered email by SMTP (smtp://… or smtps://…).")
@click.option(
    "--campaign",
    help="With --deliver: this campaign's id; each recipient gets at most one email per campaign id, "
    "across re-runs and crashes.",
)
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
    deliver_url: str | None,
    campaign: str | None,
    templates: str | None,
    rules: str | None,
    database_url: str | None,
) -> None:
    """Render TEMPLATE for a whole audience into --out, with a progress bar and a manifest."""
    from tailor.batch import read_audience, render_campaign

    if bool(audience) == bool(segment):
        fail("give exactly one of --audience FILE or --segment NAME")
    if deliver_url and not campaign:
        fail("--deliver needs --campaign ID: the id that makes a re-run send nobody the campaign twice")
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
            campaign=campaign if deliver_url else None,
        )
    click.echo(
        f"{summary.rendered} rendered, {summary.aborted} skipped by abort rules, {summary.failed} failed → "
        f"{out_dir} (manifest: {summary.manifest})"
    )
    if summary.fallbacks:
        click.echo("fallbacks: " + ", ".join(f"{k} ×{v}" for k, v in sorted(summary.fallbacks.items())))
    if deliver_url:
        from tailor.cli.deliver import deliver_records, report_line
        from tailor.delivery.records import from_batch_folder

        lines = Path(out_dir) / "delivery.jsonl"
        report = deliver_records(settings, from_batch_folder(out_dir), smtp_url=deliver_url, lines_to=lines)
        click.echo(f"{report_line(report)} (one line per email, with the frequency cap's decision: {lines})")
        if {"failed", "deferred"} & set(report.counts()):
            raise SystemExit(1)


def _segment_members(settings, segment: str, at: str | None) -> list[dict]:
    from tailor.core import Tailor

    tailor = Tailor(settings.templates, settings.rules, settings.database_url, settings=settings)
    if tailor.store is None:
        fail(f"--segment needs a store; {settings.database_url} does not exist")
    if segment not in tailor.rulebook.segments:
        fail(f"unknown segment {segment!r} (known: {', '.join(sorted(tailor.rulebook.segments)) or 'none'})")
    from tailor.preview.audience import segment_members

    return segment_members(tailor, segment, at)
