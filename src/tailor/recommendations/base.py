"""The estimator contract every built-in recommender follows.

Parameters go in ``__init__`` (so ``get_params``/``clone`` from scikit-learn work),
``fit`` learns from an interaction table, ``recommend`` ranks products for one
history. Subclasses implement ``_fit`` and ``_score`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from .interactions import InteractionMatrix, build_matrix, catalog_frame, normalize_history, weigh

Catalog: TypeAlias = pd.DataFrame | Sequence[Mapping[str, Any]] | None


class NotFittedError(RuntimeError):
    """``recommend`` was called before ``fit``."""


class Recommender(BaseEstimator):
    """Base class: history handling, exclusion and top-n selection.

    Fitted attributes (trailing underscore, scikit-learn style): ``items_`` (product
    ids, the column order of every score vector), ``users_`` and ``user_items_`` (the
    training matrix, so a known user id can be passed instead of a history).
    """

    #: how raw interaction weights are squashed before learning: none, binary or log1p
    transform: str = "log1p"

    def fit(self, interactions: pd.DataFrame | None, catalog: Catalog = None) -> Recommender:
        """Learn from ``interactions`` (user_id, product_id, event|weight[, timestamp])."""
        if interactions is None:
            interactions = pd.DataFrame(columns=["user_id", "product_id", "weight"])
        weighted = weigh(interactions, getattr(self, "event_weights", None))
        catalog_df = catalog_frame(catalog)
        self._fit(weighted, catalog_df)
        if not hasattr(self, "user_items_"):
            self._remember_users(weighted)
        self.item_index_ = {p: i for i, p in enumerate(self.items_)}
        return self

    # -- for subclasses -------------------------------------------------------------

    def _fit(self, weighted: pd.DataFrame, catalog: pd.DataFrame) -> None:
        raise NotImplementedError

    def _score(self, X: sp.csr_matrix) -> np.ndarray:
        """Scores (rows x len(items_)) for transformed history rows ``X``."""
        raise NotImplementedError

    def _remember_users(
        self, weighted: pd.DataFrame, items: Sequence[str] | np.ndarray | None = None
    ) -> InteractionMatrix:
        im = build_matrix(weighted, items=self.items_ if items is None else items)
        self.users_ = im.users
        self.user_index_ = {u: i for i, u in enumerate(im.users)}
        self.user_items_ = im.matrix
        return im

    def _apply_transform(self, X: sp.csr_matrix) -> sp.csr_matrix:
        X = X.copy().astype(np.float32)
        X.data = np.maximum(X.data, 0)
        if self.transform == "binary":
            X.data = (X.data > 0).astype(np.float32)
        elif self.transform == "log1p":
            X.data = np.log1p(X.data)
        elif self.transform != "none":
            raise ValueError(f"transform must be none, binary or log1p, got {self.transform!r}")
        X.eliminate_zeros()
        return X

    # -- public API -----------------------------------------------------------------

    def score_batch(self, X: sp.spmatrix) -> np.ndarray:
        """Dense scores for raw-weight history rows ``X`` (columns in ``items_`` order)."""
        self._check_fitted()
        return np.asarray(self._score(self._apply_transform(sp.csr_matrix(X))), dtype=np.float32)

    def history_vector(self, history: Any) -> sp.csr_matrix:
        """A 1 x len(items_) raw-weight row for a history or a known user id."""
        self._check_fitted()
        if isinstance(history, (str, int, np.integer)):
            row = self.user_index_.get(str(history))
            if row is None:
                return sp.csr_matrix((1, len(self.items_)), dtype=np.float32)
            return self.user_items_[row]
        cols: list[int] = []
        vals: list[float] = []
        for pid, weight in normalize_history(history):
            col = self.item_index_.get(pid)
            if col is not None and weight > 0:
                cols.append(col)
                vals.append(weight)
        X = sp.csr_matrix(
            (np.asarray(vals, dtype=np.float32), ([0] * len(cols), cols)),
            shape=(1, len(self.items_)),
            dtype=np.float32,
        )
        X.sum_duplicates()
        return X

    def recommend(
        self,
        history: Any,
        n: int = 10,
        exclude: Iterable[Any] = (),
        *,
        filter_seen: bool = True,
    ) -> list[tuple[str, float]]:
        """Top ``n`` ``(product_id, score)`` for a history or a user id, best first.

        Only positive scores are returned, so a model with nothing to say returns
        fewer items (or none) instead of arbitrary ones. Products in the history are
        left out unless ``filter_seen=False``.
        """
        X = self.history_vector(history)
        scores = self.score_batch(X)[0]
        banned = {str(e) for e in exclude}
        if filter_seen:
            banned.update(self.items_[X.indices].tolist())
        return self._top(scores, n, banned)

    def _top(self, scores: np.ndarray, n: int, banned: set[str]) -> list[tuple[str, float]]:
        scores = scores.astype(np.float64, copy=True)
        for pid in banned:
            col = self.item_index_.get(pid)
            if col is not None:
                scores[col] = -np.inf
        candidates = np.flatnonzero(scores > 0)
        if n <= 0 or candidates.size == 0:
            return []
        if candidates.size > n:
            part = np.argpartition(-scores[candidates], n - 1)[:n]
            candidates = candidates[part]
        # stable tie-break on position keeps results deterministic
        order = candidates[np.lexsort((candidates, -scores[candidates]))]
        return [(str(self.items_[i]), float(scores[i])) for i in order]

    def _check_fitted(self) -> None:
        if not hasattr(self, "items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")
