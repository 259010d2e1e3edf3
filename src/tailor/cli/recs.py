"""``tailor recs``: train the built-in recommenders, evaluate them offline."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from tailor.config import ConfigError, Settings

if TYPE_CHECKING:
    import pandas as pd  # a heavy import every `tailor` command would pay at start


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings.load()
        values = {k: v for k, v in overrides.items() if v is not None}
        return settings.with_values(**values) if values else settings
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable, keeps type checkers happy


def _from_store(database_url: str) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    try:
        from tailor.store import Store  # written alongside; optional at import time
    except ImportError:
        _fail("the store is not available in this build; pass --events FILE")
    store = Store(database_url)
    return store.interactions(), list(store.catalog())


@click.group("recs")
def recs() -> None:
    """Train and evaluate the built-in recommenders."""


@recs.command("train")
@click.option(
    "--events",
    "events_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Interactions file (CSV/TSV/.inter or Segment .jsonl) instead of the store.",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Catalog file (CSV or JSON) instead of the store's.",
)
@click.option("--database-url", default=None, help="SQLAlchemy URL of the store (TAILOR_DATABASE_URL).")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Artifacts folder (TAILOR_ARTIFACTS)."
)
@click.option("--keep", default=5, show_default=True, help="Versions to keep; older ones are deleted.")
def train(
    events_path: str | None, catalog_path: str | None, database_url: str | None, out_dir: str | None, keep: int
) -> None:
    """Fit every built-in model and save a new versioned artifact."""
    from tailor.recommendations.persistence import prune, save_models
    from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file

    settings = _settings(database_url=database_url, artifacts=out_dir)
    catalog: list[dict[str, Any]] = []
    if events_path is None:
        interactions, catalog = _from_store(settings.database_url)
    else:
        interactions = read_events_file(events_path)
    if catalog_path is not None:
        catalog = read_catalog_file(catalog_path)
    if interactions.empty:
        _fail("no interactions to train on")
    models = fit_models(interactions, catalog or None)
    path = save_models(
        models,
        settings.artifacts,
        metadata={
            "interactions": int(len(interactions)),
            "users": int(interactions["user_id"].nunique()),
            "catalog": len(catalog),
        },
    )
    prune(settings.artifacts, keep=keep)
    from tailor.privacy import clear_retrain_flag

    if clear_retrain_flag(settings.artifacts):
        click.echo("cleared the retrain flag left by an erasure request")
    click.echo(f"trained {', '.join(models)} on {len(interactions)} interactions -> {path}")


@recs.command("evaluate")
@click.option(
    "--events",
    "events_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Interactions file: CSV/TSV (user, item[, weight][, timestamp]), RecBole .inter or Segment .jsonl. "
    "Default: the store.",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Catalog file, to also evaluate the content-based model.",
)
@click.option("--database-url", default=None, help="SQLAlchemy URL of the store (TAILOR_DATABASE_URL).")
@click.option("--k", default=10, show_default=True, help="Cut-off of the ranking metrics.")
@click.option("--protocol", type=click.Choice(["random", "time"]), default="random", show_default=True)
@click.option("--seed", default=42, show_default=True)
@click.option("--min-positives", default=5, show_default=True, help="Users with fewer interactions are not evaluated.")
@click.option(
    "--min-weight",
    type=float,
    default=None,
    help="Only rows with weight/rating >= this are positives (e.g. 4 for 5-star ratings).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table", show_default=True)
def evaluate(
    events_path: str | None,
    catalog_path: str | None,
    database_url: str | None,
    k: int,
    protocol: str,
    seed: int,
    min_positives: int,
    min_weight: float | None,
    fmt: str,
) -> None:
    """Print precision@k, recall@k, NDCG@k and coverage for every built-in model."""
    from tailor.recommendations.evaluation import evaluate_models
    from tailor.recommendations.training import read_catalog_file, read_events_file, standard_models

    catalog: list[dict[str, Any]] = []
    if events_path is not None:
        interactions = read_events_file(events_path, min_weight=min_weight)
    else:
        interactions, catalog = _from_store(_settings(database_url=database_url).database_url)
    if catalog_path is not None:
        catalog = read_catalog_file(catalog_path)
    if interactions.empty:
        _fail("no interactions to evaluate")
    try:
        table = evaluate_models(
            standard_models(with_content=bool(catalog)),
            interactions,
            k=k,
            protocol=protocol,
            seed=seed,
            min_positives=min_positives,
            catalog=catalog or None,
        )
    except ValueError as exc:
        _fail(str(exc))
    click.echo(format_table(table, fmt))


def format_table(table: pd.DataFrame, fmt: str = "table") -> str:
    """Render a metrics table as aligned text, Markdown or JSON."""
    if fmt == "json":
        return json.dumps(table.reset_index().to_dict("records"), indent=2)
    shown = table.copy()
    for col in shown.columns:
        if col != "users":
            shown[col] = shown[col].map(lambda v: f"{v:.4f}")
    if fmt == "markdown":
        header = "| model | " + " | ".join(shown.columns) + " |"
        rule = "|---|" + "---:|" * len(shown.columns)
        rows = [f"| {name} | " + " | ".join(str(v) for v in row) + " |" for name, row in shown.iterrows()]
        return "\n".join([header, rule, *rows])
    return shown.to_string()
