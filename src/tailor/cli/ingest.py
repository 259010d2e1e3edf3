"""``tailor ingest FILE…``: load Segment events, profiles and the catalog into the store."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _default_database_url() -> str:
    from tailor.config import ConfigError, Settings

    try:
        return Settings.load().database_url
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@click.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--database-url", default=None, help="SQLAlchemy URL of the store (TAILOR_DATABASE_URL).")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bars on stderr (default: when stderr is a terminal)."
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help="Records per committed transaction when storing (default 20,000): what a crash can lose.",
)
def ingest(files: tuple[str, ...], database_url: str | None, progress: bool | None, chunk_size: int | None) -> None:
    """Load Segment events (.json, .jsonl, .csv, .parquet), profiles or catalog .csv files into the store.

    A file is validated in full before anything is stored: a file with a problem writes
    nothing, every bad line is reported as ``path:line:col: message``, the other files
    still load, and the exit status is 1. Then it is stored in committed chunks: after a
    crash, running the same command again resumes where it stopped. Loading the same
    file again changes nothing (messages are deduplicated by messageId).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from tailor.problems import ProblemError
    from tailor.store import Store

    store = Store(database_url or _default_database_url())
    failed = False
    try:
        store.migrate()
        for name in files:
            show = progress if progress is not None else sys.stderr.isatty()
            try:
                result = store.ingest_bulk(Path(name), progress=show, chunk_size=chunk_size)
            except ProblemError as exc:
                for problem in exc.problems:
                    click.echo(str(problem), err=True)
                failed = True
                continue
            except OSError as exc:  # unreadable (permissions, a device error): this file only
                click.echo(f"{name}:0:0: cannot read the file: {exc.strerror or type(exc).__name__}", err=True)
                failed = True
                continue
            click.echo(f"{name}: {result.accepted} stored, {result.duplicates} already present")
    except SQLAlchemyError as exc:
        click.echo(f"error: the store failed: {type(exc).__name__}: {exc.args[0] if exc.args else ''}"[:500], err=True)
        sys.exit(1)
    finally:
        store.close()
    if failed:
        sys.exit(1)
