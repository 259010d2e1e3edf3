"""The estimator contract every built-in recommender follows.

Parameters go in ``__init__`` (so ``get_params``/``clone`` from scikit-learn work),
``fit`` learns from an interaction table, ``recommend`` ranks products for one
history. Subclasses implement ``_fit`` and ``_score`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from .interactions import InteractionMatrix, build_matrix, catalog_frame, normalize_history, weigh

Catalog: TypeAlias = pd.DataFrame | Sequence[Mapping[str, Any]] | None
#: a history's entries (columns, values) as bytes: what :meth:`Recommender.prescored` keys its rows by
EntriesKey: TypeAlias = tuple[bytes, bytes]

#: the model whose scores were computed ahead, and those score rows (see :meth:`Recommender.prescored`)
_prescored: ContextVar[tuple[Recommender, dict[EntriesKey, np.ndarray]] | None] = ContextVar(
    "tailor_prescored", default=None
)


def add_rows(matrix: np.ndarray, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``Σ weights[i] * matrix[rows[i]]``, added up in the order given, in the product's dtype.

    What SciPy's sparse row-times-matrix kernels compute (``y[k] += w * m[k]`` per stored
    entry, each product and sum rounded to the dtype), so the sums come out the same.
    """
    dtype = np.result_type(weights.dtype, matrix.dtype)
    if len(rows) == 0:
        return np.zeros(matrix.shape[1], dtype=dtype)
    # the rows gathered into a new array and weighted in place: one array of rows x items
    # per history, not two (fancy indexing copies, so ``matrix`` is never written; it is
    # also twice as fast as ``matrix.take(rows, axis=0)`` here, measured on the shop's models)
    products = matrix[rows].astype(dtype, copy=False)
    products *= weights.astype(dtype, copy=False)[:, None]
    # Summing down the rows of a C-ordered array, NumPy adds row after row into the result
    # (pairwise summation is only along the contiguous axis): the kernel's order
    return np.add.reduce(products, axis=0, dtype=dtype)


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

    # -- one history: what a send asks ------------------------------------------------
    #
    # A send scores one recipient. Building SciPy matrices for one row costs far more than
    # the arithmetic (tens of µs per matrix, a dozen matrices per hybrid score), so one
    # row is scored from its (column, value) entries with NumPy vectors instead: the same
    # operations on the same values in the same order as the sparse kernels (a row times
    # a matrix adds ``value * matrix row`` for each stored entry, in stored order), so the
    # scores are the very numbers ``score_batch`` gives that row (a parity test holds it).

    def score_one(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """``score_batch`` of one raw-weight row given by its entries' columns and values (stored order)."""
        self._check_fitted()
        cols, vals = self._transform_entries(cols, vals)
        return np.asarray(self._score_one(cols, vals), dtype=np.float32)

    @contextmanager
    def prescored(self, histories: Iterable[Any]) -> Iterator[None]:
        """Within this block, :meth:`recommend` takes these histories' scores from one :meth:`score_batch`.

        A campaign partition scores all its recipients at once: one sparse product for the
        partition instead of a dozen NumPy calls per recipient. The rows are the very floats
        :meth:`score_one` gives (SciPy's kernels compute a product row by row, so a row's
        sums neither depend on the other rows nor change order; a parity test holds it). A
        row is found by its history's entries, so a history not given here (or given with
        other weights) is scored on its own, as it always was.
        """
        rows: dict[EntriesKey, tuple[np.ndarray, np.ndarray]] = {}
        for history in histories:
            cols, vals = self._history_entries(history)
            if len(cols):
                rows.setdefault((cols.tobytes(), vals.tobytes()), (cols, vals))
        scores: dict[EntriesKey, np.ndarray] = {}
        if rows:
            entries = list(rows.values())
            indptr = np.zeros(len(entries) + 1, dtype=np.int64)
            np.cumsum([len(cols) for cols, _ in entries], out=indptr[1:])
            X = sp.csr_matrix(
                (np.concatenate([v for _, v in entries]), np.concatenate([c for c, _ in entries]), indptr),
                shape=(len(entries), len(self.items_)),
            )
            scores = dict(zip(rows, self.score_batch(X), strict=True))
        token = _prescored.set((self, scores))
        try:
            yield
        finally:
            _prescored.reset(token)

    def _scores(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """:meth:`score_one`, or the row :meth:`prescored` computed for these entries."""
        found = _prescored.get()
        if found is not None and found[0] is self:
            row = found[1].get((cols.tobytes(), vals.tobytes()))
            if row is not None:
                return row
        return self.score_one(cols, vals)

    def _transform_entries(self, cols: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_apply_transform` on one row's entries."""
        vals = np.maximum(vals.astype(np.float32), 0)
        if self.transform == "binary":
            vals = (vals > 0).astype(np.float32)
        elif self.transform == "log1p":
            vals = np.log1p(vals)
        elif self.transform != "none":
            raise ValueError(f"transform must be none, binary or log1p, got {self.transform!r}")
        kept = vals != 0
        return cols[kept], vals[kept]

    def _score_one(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """Scores of one transformed row; models override this with a vector form of :meth:`_score`."""
        indptr = np.asarray([0, len(cols)], dtype=np.int32)
        return self._score(sp.csr_matrix((vals, cols, indptr), shape=(1, len(self.items_))))[0]

    def _dense(self, name: str) -> np.ndarray:
        """Fitted sparse matrix ``name`` as a dense array, made on first use (kept out of pickles)."""
        matrix = getattr(self, name)
        cache = self.__dict__.setdefault("_dense_cache", {})
        cached = cache.get(name)
        if cached is None or cached[0] is not matrix:
            cached = cache[name] = (matrix, matrix.toarray())
        return cached[1]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_dense_cache", None)
        return state

    def _history_entries(self, history: Any) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`history_vector` of a history (not a user id) as its sorted columns and values."""
        self._check_fitted()
        entries: dict[int, float] = {}
        for pid, weight in normalize_history(history):
            col = self.item_index_.get(pid)
            if col is not None and weight > 0:
                if col in entries:  # repeated product: let the sparse sum decide, as it always did
                    X = self.history_vector(history)
                    return X.indices, X.data
                entries[col] = weight
        cols = sorted(entries)
        return np.asarray(cols, dtype=np.int32), np.asarray([entries[c] for c in cols], dtype=np.float32)

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
        if isinstance(history, (str, int, np.integer)):  # a known user's training row
            X = self.history_vector(history)
            cols, scores = X.indices, self.score_batch(X)[0]
        else:
            cols, vals = self._history_entries(history)
            scores = self._scores(cols, vals)
        banned = {str(e) for e in exclude}
        if filter_seen:
            banned.update(self.items_[cols].tolist())
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
