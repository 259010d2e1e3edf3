"""EASE: a closed-form linear item-item model (Steck, 2019)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Recommender, add_rows


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder: ``B = I - P / diag(P)``, ``P = (XᵀX + λI)⁻¹``.

    Memory is a dense ``items x items`` float32 matrix (``4 * max_items²`` bytes:
    10,000 items = 400 MB during fit, 20,000 = 1.6 GB), so only the ``max_items``
    items with the most users are modelled; the rest are neither recommended nor
    used as evidence. ``l2`` (λ) is the one knob: larger = smoother, more popular.
    """

    def __init__(
        self,
        l2: float = 100.0,
        max_items: int = 10_000,
        event_weights: Mapping[str, float] | None = None,
        transform: str = "log1p",
    ) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.event_weights = event_weights
        self.transform = transform

    def _fit(self, weighted: pd.DataFrame, catalog: pd.DataFrame) -> None:
        users_per_item = weighted.groupby("product_id")["user_id"].nunique()
        # stable sort so ties keep first-seen order and fits are reproducible
        kept = users_per_item.sort_values(ascending=False, kind="stable").index[: self.max_items]
        self.items_ = np.asarray(list(kept), dtype=object)
        im = self._remember_users(weighted, items=self.items_)
        X = self._apply_transform(im.matrix)
        gram = (X.T @ X).toarray().astype(np.float32)
        gram[np.diag_indices_from(gram)] += np.float32(self.l2)
        precision = np.linalg.inv(gram)
        weights = precision / (-np.diag(precision))
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights.astype(np.float32)

    def _score(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.weights_)

    def _score_one(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        return add_rows(self.weights_, cols, vals)
