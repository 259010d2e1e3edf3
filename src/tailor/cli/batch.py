"""``tailor batch``: a whole campaign rendered in parallel on Dask, into resumable shards."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

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
@click.option(
    "--out",
    "out_url",
    required=True,
    help="Folder or fsspec URL (s3://…, gs://…) for the shards; the same --out resumes an interrupted run.",
)
@click.option("--format", "fmt", type=click.Choice(["parquet", "jsonl"]), default="parquet", show_default=True)
@click.option(
    "--partition-size",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="Recipients per Dask task and per shard.",
)
@click.option("--scheduler", help="Address of a Dask scheduler (default: a local cluster).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="Local cluster size.")
@click.option("--at", help="Send time, ISO 8601 (default: now; a resumed run keeps the first run's).")
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
    out_url: str,
    fmt: str,
    partition_size: int,
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
    """Render TEMPLATE for a whole audience into shards under --out, with a progress bar.

    Each partition of the audience becomes one shard (part-NNNNNN.parquet or .jsonl) of
    rendered emails; a run killed half-way is finished by running the same command again
    (finished partitions are not rendered again).
    """
    from tailor.batch import check_audience, iter_audience, run_campaign
    from tailor.core import Tailor
    from tailor.email import TailorError

    require_extra("dask", "batch", "tailor batch")
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
        if not isinstance(context, dict):
            fail("--context must be a JSON object")
    tailor = Tailor(settings.templates, settings.rules, settings.database_url, settings=settings)
    try:
        tailor.compile(template)
    except TailorError as exc:  # unknown or broken template: say so before starting a cluster
        fail(str(exc))
    recipients: Any
    if audience:
        try:
            total = check_audience(audience)  # one streamed pass: every bad line before anything renders
        except ProblemError as exc:
            fail(str(exc))
        recipients, described = iter_audience(audience), f"file:{audience}"
    else:
        total, recipients = _segment_candidates(tailor, segment or "")
        described = f"segment:{segment}"
    try:
        with click.progressbar(length=total, label=f"rendering {template}", file=sys.stderr) as bar:
            summary = run_campaign(
                settings,
                template,
                recipients,
                out_url,
                audience=described,
                segment=segment,
                scheduler=scheduler,
                workers=workers,
                partition_size=partition_size,
                fmt=fmt,
                at=at,
                context=context,
                progress=bar.update,
                campaign=campaign if deliver_url else None,
            )
    except ProblemError as exc:
        fail(str(exc))
    except Exception as exc:  # a worker lost its store or its output; what finished stays finished
        fail(f"the campaign stopped: {type(exc).__name__}: {exc}; run the same command again to resume")
    outside = f", {summary.outside_segment} not in the segment" if segment else ""
    resumed = f", {summary.resumed} already done by an earlier run" if summary.resumed else ""
    click.echo(
        f"{summary.rendered} rendered, {summary.aborted} skipped by abort rules, {summary.failed} failed{outside} → "
        f"{out_url} ({summary.partitions} shards{resumed})"
    )
    if summary.fallbacks:
        click.echo("fallbacks: " + ", ".join(f"{k} ×{v}" for k, v in sorted(summary.fallbacks.items())))
    if deliver_url:
        _deliver(settings, tailor, template, out_url, deliver_url)


def _deliver(settings: Any, tailor: Any, template: str, out_url: str, smtp_url: str) -> None:
    """``--deliver``: the finished shards' emails through the journaled sender, each at most once."""
    from tailor.batch import iter_rendered
    from tailor.cli.deliver import deliver_records, report_line
    from tailor.delivery.records import from_shard_rows

    marketing = not tailor.compile(template).settings.get("transactional", False)
    records = from_shard_rows(iter_rendered(out_url), template=template, marketing=marketing)
    local = _local_folder(out_url)
    lines = local / "delivery.jsonl" if local is not None else None
    report = deliver_records(settings, records, smtp_url=smtp_url, lines_to=lines)
    where = f": {lines}" if lines is not None else " (above)"
    click.echo(f"{report_line(report)} (one line per email, with the frequency cap's decision{where})")
    if {"failed", "deferred"} & set(report.counts()):
        raise SystemExit(1)


def _local_folder(out_url: str) -> Any:
    """The folder of a local ``--out`` (where ``delivery.jsonl`` goes), or None for a remote URL."""
    from pathlib import Path

    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    fs, root = url_to_fs(out_url)
    return Path(root) if isinstance(fs, LocalFileSystem) else None


def _segment_candidates(tailor: Any, segment: str) -> tuple[int, Iterator[dict[str, str]]]:
    """Every stored profile, paged: the workers keep the segment's members (they load the profiles anyway)."""
    store = tailor.store
    if store is None:
        fail(f"--segment needs a store; {tailor.settings.database_url} does not exist")
    if segment not in tailor.rulebook.segments:
        fail(f"unknown segment {segment!r} (known: {', '.join(sorted(tailor.rulebook.segments)) or 'none'})")
    return store.count_profiles(), ({"id": profile_id} for profile_id in store.iter_profile_ids())
