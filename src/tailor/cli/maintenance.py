"""``tailor maintenance purge``: delete events older than their retention window."""

from __future__ import annotations

import json
import sys

import click

from tailor.cli.common import settings_from


@click.group("maintenance")
def maintenance() -> None:
    """Housekeeping of the store (retention)."""


@maintenance.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option(
    "--policy",
    type=click.Path(dir_okay=False),
    default=None,
    help="Retention YAML (default: $TAILOR_RETENTION, else ./retention.yaml, else 395 days for every event).",
)
@click.option(
    "--batch-size", default=5000, show_default=True, type=click.IntRange(min=1), help="Rows deleted per transaction."
)
@click.option("--at", "at", default=None, help="Purge as of this ISO 8601 time instead of now.")
@click.option("--database-url", default=None, help="SQLAlchemy URL of the store (TAILOR_DATABASE_URL).")
def purge(dry_run: bool, policy: str | None, batch_size: int, at: str | None, database_url: str | None) -> None:
    """Delete events older than the retention window of their type, in small batches."""
    from sqlalchemy.exc import SQLAlchemyError

    from tailor.privacy import load_policy
    from tailor.privacy import purge as run_purge
    from tailor.privacy.retention import PolicyError
    from tailor.store import Store
    from tailor.store.times import parse_time

    settings = settings_from({"database_url": database_url})
    try:
        retention = load_policy(policy, settings=settings)
    except PolicyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    now = None
    if at is not None:
        try:
            now = parse_time(at)
        except ValueError:
            click.echo(f"error: --at must be an ISO 8601 time, got {at!r}", err=True)
            sys.exit(1)
    store = Store(settings.database_url)
    try:
        store.migrate()
        report = run_purge(store, retention, now=now, dry_run=dry_run, batch_size=batch_size)
    except SQLAlchemyError as exc:
        click.echo(f"error: the store failed: {type(exc).__name__}", err=True)
        sys.exit(1)
    finally:
        store.close()
    click.echo(json.dumps(report, indent=2))
