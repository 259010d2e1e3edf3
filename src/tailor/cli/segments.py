"""``tailor segments train``: fit the clustering segments (KMeans over RFM features)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from tailor.cli.common import database_option, fail, rules_option, settings_from


@click.group("segments")
def segments() -> None:
    """Segments declared in rules/ (conditions and KMeans clusterings)."""


@segments.command("train")
@rules_option
@database_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Artifacts folder (TAILOR_ARTIFACTS); models go to <out>/segments/<name>.joblib.",
)
@click.option("--at", "at_text", help="Compute the features as of this time, ISO 8601 (default: now).")
def train(rules: str | None, database_url: str | None, out_dir: str | None, at_text: str | None) -> None:
    """Fit every `model: kmeans` segment on the store's computed features and save it."""
    from tailor.problems import ProblemError
    from tailor.rules import RuleBook
    from tailor.rules.clusters import train_store
    from tailor.store import Store
    from tailor.vocabulary.times import to_utc

    settings = settings_from({"rules": rules, "database_url": database_url, "artifacts": out_dir})
    at = to_utc(at_text) if at_text else datetime.now(UTC)
    if at is None:
        fail(f"--at: not an ISO 8601 time: {at_text!r}")
    try:
        book = RuleBook.load(settings.rules, artifacts=settings.artifacts)
    except ProblemError as exc:
        fail("the rules have errors (run `tailor check`):\n" + "\n".join(str(p) for p in exc.problems))
    if not book.clusters:
        fail("no clustering segment (`model: kmeans`) is declared in the rules")
    store = Store(settings.database_url)
    try:
        store.migrate()
        trained = train_store(book, store, at, settings.artifacts)
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.close()
    for name, model in trained.items():
        sizes = ", ".join(f"{label} {model['counts'][label]}" for label in book.clusters[name].labels)
        click.echo(
            f"{name}: {model['profiles']} profiles -> {sizes} ({book.clusters[name].artifact(settings.artifacts)})"
        )


if __name__ == "__main__":  # ``python -m tailor.cli.segments train ...``
    segments()
