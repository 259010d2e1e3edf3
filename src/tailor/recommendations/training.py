"""What ``tailor recs train`` and ``evaluate`` build: the standard model set and its inputs."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .base import Recommender
from .content import ContentTFIDF
from .ease import EASE
from .evaluation import read_interactions
from .hybrid import Hybrid
from .interactions import events_to_interactions
from .itemitem import ItemItem
from .popularity import Popularity


def standard_models(with_content: bool = True, ease_l2: float = 100.0) -> dict[str, Recommender]:
    """Every built-in model, unfitted; the hybrid uses its own fresh components."""
    models: dict[str, Recommender] = {
        "popularity": Popularity(),
        "itemitem": ItemItem(),
        "ease": EASE(l2=ease_l2),
    }
    if with_content:
        models["content"] = ContentTFIDF()
    components: dict[str, Recommender] = {"ease": EASE(l2=ease_l2), "popularity": Popularity()}
    if with_content:
        components["content"] = ContentTFIDF()
    models["hybrid"] = Hybrid(components)
    return models


def fit_models(
    interactions: pd.DataFrame, catalog: Sequence[Mapping[str, Any]] | pd.DataFrame | None
) -> dict[str, Recommender]:
    """Fit :func:`standard_models` (content-based only when there is a catalog)."""
    has_catalog = catalog is not None and len(catalog) > 0
    models = standard_models(with_content=has_catalog)
    return {name: model.fit(interactions, catalog if has_catalog else None) for name, model in models.items()}


def read_events_file(path: str | os.PathLike[str], min_weight: float | None = None) -> pd.DataFrame:
    """Interactions from a CSV/TSV/``.inter`` file or Segment events (``.jsonl``/``.json``)."""
    path = Path(path)
    if path.suffix in (".jsonl", ".ndjson", ".json"):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            data = json.loads(text)
            events = data if isinstance(data, list) else data.get("batch") or data.get("events") or []
        else:
            events = [json.loads(line) for line in text.splitlines() if line.strip()]
        return events_to_interactions(events)
    return read_interactions(path, min_weight=min_weight)


def read_catalog_file(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """A catalog from CSV (the fixtures format) or JSON/JSONL product objects."""
    path = Path(path)
    if path.suffix in (".json", ".jsonl", ".ndjson"):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            return list(json.loads(text))
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    frame = pd.read_csv(path, dtype={"id": str})
    return [
        {k: v for k, v in row.items() if not (isinstance(v, float) and pd.isna(v))} for row in frame.to_dict("records")
    ]
