"""A weighted blend of other recommenders."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Recommender
from .content import ContentTFIDF
from .itemitem import ItemItem
from .popularity import Popularity


def default_components() -> dict[str, Recommender]:
    """Collaborative signal first, content for cold items, a pinch of popularity to break ties."""
    return {"itemitem": ItemItem(), "content": ContentTFIDF(), "popularity": Popularity()}


_DEFAULT_WEIGHTS = {"itemitem": 1.0, "ease": 1.0, "content": 0.3, "popularity": 0.05}


class Hybrid(Recommender):
    """Blend component scores: ``Σ weight_m * scores_m / max(scores_m)`` per history.

    Each component's scores are scaled to [0, 1] for that history first, so the
    weights mean "relative say" regardless of each model's score units. The item
    space is the union of the components'. Components that cannot fit (e.g.
    ``ContentTFIDF`` without a catalog) are dropped with their reason kept in
    ``skipped_``.
    """

    def __init__(
        self,
        components: Mapping[str, Recommender] | None = None,
        weights: Mapping[str, float] | None = None,
        event_weights: Mapping[str, float] | None = None,
        transform: str = "none",
    ) -> None:
        self.components = components
        self.weights = weights
        self.event_weights = event_weights
        self.transform = transform

    def fit(self, interactions: pd.DataFrame | None, catalog=None) -> Hybrid:
        components = dict(self.components) if self.components is not None else default_components()
        self.components_: dict[str, Recommender] = {}
        self.skipped_: dict[str, str] = {}
        for name, model in components.items():
            if self.event_weights is not None and getattr(model, "event_weights", None) is None:
                model.set_params(event_weights=self.event_weights)
            try:
                self.components_[name] = model.fit(interactions, catalog)
            except ValueError as exc:
                self.skipped_[name] = str(exc)
        if not self.components_:
            raise ValueError(f"no component could be fitted: {self.skipped_}")
        return super().fit(interactions, catalog)

    def _fit(self, weighted: pd.DataFrame, catalog: pd.DataFrame) -> None:
        items: dict[str, int] = {}
        for model in self.components_.values():
            for pid in model.items_:
                items.setdefault(pid, len(items))
        self.items_ = np.asarray(list(items), dtype=object)
        # component column j sits at union column columns_[name][j]
        self.columns_ = {
            name: np.asarray([items[p] for p in model.items_], dtype=np.int64)
            for name, model in self.components_.items()
        }
        self._remember_users(weighted)

    def _score_one(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        # _score for one row: ``X[:, columns]`` keeps the row's stored order, so each
        # component sees its entries in the order of the union's columns
        total = np.zeros(len(self.items_), dtype=np.float32)
        weights = {**_DEFAULT_WEIGHTS, **(self.weights or {})}
        for name, model in self.components_.items():
            weight = float(weights.get(name, 1.0))
            if weight == 0:
                continue
            columns = self.columns_[name]
            own = self._own_columns(name)[cols]
            present = own >= 0
            scores = model.score_one(own[present], vals[present])
            scale = scores.max()
            if scale <= 0:
                scale = np.float32(1.0)
            total[columns] += weight * np.clip(scores / scale, 0, None)
        return total

    def _own_columns(self, name: str) -> np.ndarray:
        """Union column -> the component's column (-1 where the component has no such item)."""
        cache = self.__dict__.setdefault("_dense_cache", {})
        columns = self.columns_[name]
        cached = cache.get(("own", name))
        if cached is None or cached[0] is not columns:
            own = np.full(len(self.items_), -1, dtype=np.int64)
            own[columns] = np.arange(len(columns))
            cached = cache[("own", name)] = (columns, own)
        return cached[1]

    def _score(self, X: sp.csr_matrix) -> np.ndarray:
        total = np.zeros((X.shape[0], len(self.items_)), dtype=np.float32)
        weights = {**_DEFAULT_WEIGHTS, **(self.weights or {})}
        for name, model in self.components_.items():
            weight = float(weights.get(name, 1.0))
            if weight == 0:
                continue
            cols = self.columns_[name]
            scores = model.score_batch(X[:, cols])
            scale = scores.max(axis=1, keepdims=True)
            scale[scale <= 0] = 1.0
            total[:, cols] += weight * np.clip(scores / scale, 0, None)
        return total
