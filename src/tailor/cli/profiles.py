"""``tailor profiles export ID`` / ``tailor profiles erase ID``: data-subject access and erasure."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from tailor.cli.common import settings_from


def _store(database_url: str | None) -> Any:
    from tailor.store import Store

    settings = settings_from({"database_url": database_url})
    store = Store(settings.database_url)
    store.migrate()
    return store, settings


def _store_failed(exc: Exception) -> None:
    click.echo(f"error: the store failed: {type(exc).__name__}"[:500], err=True)
    sys.exit(1)


@click.group("profiles")
def profiles() -> None:
    """Data-subject requests: export (access) and erase (erasure) one person's data."""


@profiles.command("export")
@click.argument("profile_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the JSON document to this file instead of stdout.",
)
@click.option("--database-url", default=None, help="SQLAlchemy URL of the store (TAILOR_DATABASE_URL).")
def export(profile_id: str, output: str | None, database_url: str | None) -> None:
    """Print everything stored about PROFILE_ID (a profile id, user id, anonymous id or email) as JSON."""
    from sqlalchemy.exc import SQLAlchemyError

    from tailor.privacy import export_profile

    store, _ = _store(database_url)
    try:
        doc = export_profile(store, profile_id)
    except SQLAlchemyError as exc:
        _store_failed(exc)
    finally:
        store.close()
    if doc is None:
        click.echo("error: no profile with this id", err=True)
        sys.exit(1)
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


@profiles.command("erase")
@click.argument("profile_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--database-url", default=None, help="SQLAlchemy URL of the store (TAILOR_DATABASE_URL).")
def erase(profile_id: str, yes: bool, database_url: str | None) -> None:
    """Delete everything stored about PROFILE_ID (as for export) in one transaction.

    Keeps only a keyed hash of each identifier and the time.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from tailor.privacy import erase_profile

    store, settings = _store(database_url)
    try:
        if store.resolve_person(profile_id) is None and store.export_profile(profile_id) is None:
            click.echo("error: no profile with this id", err=True)
            sys.exit(1)
        if not yes and not click.confirm(f"Erase every datum about {profile_id}? This cannot be undone", default=False):
            click.echo("not erased", err=True)
            sys.exit(1)
        receipt = erase_profile(store, profile_id, artifacts=settings.artifacts)
    except SQLAlchemyError as exc:
        _store_failed(exc)
    finally:
        store.close()
    if receipt is None:  # erased by someone else in between
        click.echo("error: no profile with this id", err=True)
        sys.exit(1)
    click.echo(json.dumps(receipt, indent=2, default=str))
