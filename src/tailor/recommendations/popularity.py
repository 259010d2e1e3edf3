"""Popularity with recency decay, overall and per category."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Recommender


class Popularity(Recommender):
    """Rank products by decayed interaction weight.

    Each interaction counts ``weight * 0.5 ** (age_days / half_life_days)``, so last
    week's best sellers beat last quarter's. ``now`` defaults to the newest timestamp
    in the data (training on an old dump must not decay everything to zero).
    Catalog products without interactions are kept with score 0 so category lookups
    still know them.
    """

    def __init__(
        self,
        half_life_days: float | None = 30.0,
        event_weights: Mapping[str, float] | None = None,
        now: pd.Timestamp | str | None = None,
        transform: str = "none",
    ) -> None:
        self.half_life_days = half_life_days
        self.event_weights = event_weights
        self.now = now
        self.transform = transform

    def _fit(self, weighted: pd.DataFrame, catalog: pd.DataFrame) -> None:
        weights = weighted["weight"].to_numpy(dtype=np.float64)
        if self.half_life_days and "timestamp" in weighted.columns and weighted["timestamp"].notna().any():
            ts = weighted["timestamp"]
            now = pd.Timestamp(self.now, tz="UTC") if self.now is not None else ts.max()
            if now.tzinfo is None:
                now = now.tz_localize("UTC")
            age_days = ((now - ts).dt.total_seconds() / 86400.0).fillna(0).clip(lower=0).to_numpy()
            weights = weights * np.power(0.5, age_days / float(self.half_life_days))
        totals = pd.Series(weights, index=weighted["product_id"].to_numpy()).groupby(level=0).sum()
        extra = [p for p in catalog["id"].tolist() if p not in totals.index]
        self.items_ = np.asarray(list(totals.index) + extra, dtype=object)
        self.scores_ = np.concatenate([totals.to_numpy(), np.zeros(len(extra))]).astype(np.float32)
        categories: dict[str, str] = {}
        if "category" in catalog.columns:
            categories = {
                str(pid): str(cat).strip().lower()
                for pid, cat in zip(catalog["id"], catalog["category"], strict=True)
                if isinstance(cat, str) and cat.strip()
            }
        self.item_categories_ = np.asarray([categories.get(p, "") for p in self.items_], dtype=object)

    def _score(self, X: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.scores_, (X.shape[0], 1))

    def _score_one(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        return self.scores_.copy()

    def top(self, n: int = 10, category: str | None = None, exclude: Iterable[Any] = ()) -> list[tuple[str, float]]:
        """Most popular products, optionally within one category (case-insensitive)."""
        self._check_fitted()
        scores = self.scores_.copy()
        if category is not None:
            scores[self.item_categories_ != str(category).strip().lower()] = 0.0
        return self._top(scores, n, {str(e) for e in exclude})

    def recommend(
        self,
        history: Any = None,
        n: int = 10,
        exclude: Iterable[Any] = (),
        *,
        filter_seen: bool = True,
        category: str | None = None,
    ) -> list[tuple[str, float]]:
        """Popular products; the history only matters for leaving out seen products."""
        banned = {str(e) for e in exclude}
        if filter_seen and history is not None:
            X = self.history_vector(history)
            banned.update(self.items_[X.indices].tolist())
        return self.top(n, category=category, exclude=banned)
