"""``tailor recs``: train the built-in recommenders, evaluate them offline, roll trained versions out and back."""

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
@click.option(
    "--ramp",
    "ramp_share",
    default=None,
    help="Serve a version that passes the offline gate to this share of recipients first (e.g. 10%%), "
    "as a challenger, instead of promoting it at once.",
)
@click.option(
    "--tolerance", default=0.0, show_default=True, help="How much worse (NDCG@10) than the champion still passes."
)
@click.option(
    "--if-older-than",
    "if_older_than",
    default=None,
    help="Only retrain when the champion is older than this (e.g. 7d): a schedule can run it daily.",
)
def train(
    events_path: str | None,
    catalog_path: str | None,
    database_url: str | None,
    out_dir: str | None,
    keep: int,
    ramp_share: str | None,
    tolerance: float,
    if_older_than: str | None,
) -> None:
    """Fit every built-in model, compare it with the champion offline, save it and roll it out.

    The new models and the serving champion are scored on the same held-out interactions
    (the newest 20% of each user's). A new version not worse than the champion becomes the
    champion (or, with --ramp, the challenger for that share of recipients); a worse one is
    saved but not served. After an erasure the retrain serves whatever its metrics.
    """
    from tailor.privacy import clear_retrain_flag
    from tailor.privacy.retrain import retrain_needed
    from tailor.recommendations.evaluation import compare_on_holdout
    from tailor.recommendations.persistence import prune, save_models
    from tailor.recommendations.rollout import adopt, current, kept, manifest, offline_gate, serving
    from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file, standard_models

    settings = _settings(database_url=database_url, artifacts=out_dir)
    share = _share(ramp_share) if ramp_share is not None else 0.0
    if if_older_than is not None and _young_champion(settings.artifacts, if_older_than):
        return
    catalog: list[dict[str, Any]] = []
    if events_path is None:
        interactions, catalog = _from_store(settings.database_url)
    else:
        interactions = read_events_file(events_path)
    if catalog_path is not None:
        catalog = read_catalog_file(catalog_path)
    if interactions.empty:
        _fail("no interactions to train on")
    served = serving(settings.artifacts)
    champion_info = manifest(settings.artifacts, served.champion_version) if served and served.champion_version else {}
    comparison = compare_on_holdout(
        standard_models(with_content=bool(catalog)),
        served.champion if served is not None else None,
        interactions,
        champion_trained_until=champion_info.get("trained_until"),
        catalog=catalog or None,
    )
    passed, detail = offline_gate(comparison, tolerance)
    models = fit_models(interactions, catalog or None)
    path = save_models(
        models,
        settings.artifacts,
        metadata={
            "interactions": int(len(interactions)),
            "users": int(interactions["user_id"].nunique()),
            "catalog": len(catalog),
            "trained_until": _trained_until(interactions),
            "offline": {**comparison, "champion_version": served.champion_version if served else None},
            "gate": {"passed": passed, "detail": detail, "tolerance": tolerance},
        },
    )
    erasure = retrain_needed(settings.artifacts) is not None
    rollout = adopt(settings.artifacts, path.name, passed=passed, detail=detail, ramp_share=share, erasure=erasure)
    prune(settings.artifacts, keep=keep, protect=kept(settings.artifacts), remove=rollout.erased)
    if clear_retrain_flag(settings.artifacts):
        click.echo("cleared the retrain flag left by an erasure request")
    click.echo(f"trained {', '.join(models)} on {len(interactions)} interactions -> {path}")
    click.echo(f"offline: {detail}")
    state = current(settings.artifacts)
    if state.champion == path.name:
        click.echo(f"serving: {path.name} is the champion")
    elif state.challenger == path.name:
        click.echo(f"serving: {path.name} is the challenger for {state.share:.0%} of recipients")
    else:
        click.echo(f"serving: kept the champion {state.champion}; {path.name} is saved but not served")


def _young_champion(artifacts: Any, limit: str) -> bool:
    """True (and says so) when the serving champion is younger than ``limit``: no retrain needed yet.

    An erasure always retrains (privacy first), whatever the champion's age.
    """
    from tailor.privacy.retrain import retrain_needed
    from tailor.recommendations.rollout import age, current
    from tailor.vocabulary.durations import NotADuration, parse_duration

    try:
        wanted = parse_duration(limit)
    except NotADuration as exc:
        _fail(f"--if-older-than: {exc}")
        return False
    champion = current(artifacts).champion
    if champion is None or retrain_needed(artifacts) is not None:
        return False
    trained = age(artifacts, champion)
    if trained is None or trained >= wanted:
        return False
    click.echo(f"the champion {champion} is {trained.days} days old, younger than {limit}: not retrained")
    return True


def _trained_until(interactions: pd.DataFrame) -> str | None:
    """The newest interaction a version learned from (the gate knows what it cannot have seen)."""
    import pandas as pd

    if "timestamp" not in interactions or interactions["timestamp"].isna().all():
        return None
    return pd.to_datetime(interactions["timestamp"], utc=True).max().isoformat()


def _share(text: str) -> float:
    value = text.strip()
    try:
        share = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        _fail(f"--ramp: {text!r} is not a share (use 10% or 0.1)")
    if not 0 < share <= 1:
        _fail(f"--ramp: {text!r} must be above 0 and at most 100%")
    return share


@recs.command("status")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Artifacts folder.")
def status(out_dir: str | None) -> None:
    """Which trained version serves (champion, challenger and its share), and every version's offline score."""
    from tailor.recommendations.persistence import list_versions
    from tailor.recommendations.rollout import current, evaluations, manifest

    artifacts = _settings(artifacts=out_dir).artifacts
    state = current(artifacts)
    if state.champion is None:
        _fail(f"no trained version in {artifacts} (run `tailor recs train`)")
    click.echo(f"champion:   {state.champion}")
    if state.challenger:
        click.echo(f"challenger: {state.challenger} ({state.share:.0%} of recipients)")
    history = evaluations(artifacts)
    for path in reversed(list_versions(artifacts)):
        info = manifest(artifacts, path.name)
        gate = (info.get("gate") or {}).get("detail", "not evaluated")
        role = {state.champion: "champion", state.challenger: "challenger"}.get(path.name, "")
        role = "erased" if path.name in state.erased else role
        click.echo(f"  {path.name}  {role:<10}  {gate}")
        for entry in [e for e in history if e.get("version") == path.name][-3:]:
            click.echo(
                f"      since training, as of {entry['at'][:16]}: ndcg@10 {entry.get('ndcg@10', 0):.4f} "
                f"over {entry.get('users', 0)} users"
            )


@recs.command("ramp")
@click.argument("share")
@click.option("--version", default=None, help="The version to ramp (default: the current challenger).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Artifacts folder.")
def ramp_command(share: str, version: str | None, out_dir: str | None) -> None:
    """Serve the challenger to SHARE of recipients (e.g. 50%); a running service follows within a second."""
    from tailor.recommendations.rollout import RolloutError, ramp

    try:
        state = ramp(_settings(artifacts=out_dir).artifacts, _share(share), version)
    except RolloutError as exc:
        _fail(str(exc))
    click.echo(f"challenger {state.challenger} serves {state.share:.0%} of recipients; champion {state.champion}")


@recs.command("promote")
@click.argument("version", required=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Artifacts folder.")
def promote_command(version: str | None, out_dir: str | None) -> None:
    """Make the challenger (or VERSION) the champion."""
    from tailor.recommendations.rollout import RolloutError, promote

    try:
        state = promote(_settings(artifacts=out_dir).artifacts, version)
    except RolloutError as exc:
        _fail(str(exc))
    click.echo(f"champion: {state.champion}")


@recs.command("rollback")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Artifacts folder.")
def rollback_command(out_dir: str | None) -> None:
    """Stop the challenger, or, without one, serve the previous champion again."""
    from tailor.recommendations.rollout import RolloutError, rollback

    try:
        state = rollback(_settings(artifacts=out_dir).artifacts)
    except RolloutError as exc:
        _fail(str(exc))
    click.echo(f"champion: {state.champion}" + (f"; challenger {state.challenger}" if state.challenger else ""))


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
@click.option(
    "--serving",
    is_flag=True,
    help="Instead: score the trained versions that serve on what happened since each was trained, and add the "
    "result to their history (evaluations.jsonl; run it on a schedule).",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Artifacts folder.")
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
    serving: bool,
    out_dir: str | None,
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
    if serving:
        _evaluate_serving(_settings(artifacts=out_dir).artifacts, interactions, k)
        return
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


def _evaluate_serving(artifacts: Any, interactions: pd.DataFrame, k: int) -> None:
    """The champion (and a challenger) scored on the interactions after their training; recorded."""
    from datetime import UTC, datetime

    from tailor.recommendations.evaluation import evaluate_since
    from tailor.recommendations.rollout import manifest, record_evaluation
    from tailor.recommendations.rollout import serving as load_serving
    from tailor.recommendations.service import MODEL_PREFERENCE

    served = load_serving(artifacts)
    if served is None:
        _fail(f"no trained version in {artifacts} (run `tailor recs train`)")
        return
    roles = [("champion", served.champion_version, served.champion)]
    if served.challenger is not None:
        roles.append(("challenger", served.challenger_version, served.challenger))
    for role, version, models in roles:
        name = next((m for m in MODEL_PREFERENCE if m in (models or {})), None)
        trained_until = manifest(artifacts, version).get("trained_until") if version else None
        if name is None or models is None or version is None or trained_until is None:
            click.echo(f"{role} {version}: not evaluated (no servable model or no training date in its manifest)")
            continue
        metrics = evaluate_since(models[name], interactions, trained_until, k=k)
        entry = {"at": datetime.now(UTC).isoformat(), "version": version, "role": role, "model": name, **metrics}
        record_evaluation(artifacts, entry)
        click.echo(
            f"{role} {version} ({name}): ndcg@{k} {metrics[f'ndcg@{k}']:.4f}, recall@{k} "
            f"{metrics[f'recall@{k}']:.4f} over {metrics['users']} users with interactions since {trained_until}"
        )


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
