"""Item-item collaborative filtering over a sparse co-occurrence matrix."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Recommender, add_rows
from .interactions import build_matrix


def bm25_weight(item_users: sp.csr_matrix, k1: float = 100.0, b: float = 0.8) -> sp.csr_matrix:
    """BM25-weight an items x users matrix (items are the "documents").

    Users who interact with everything (low idf) and items with huge audiences
    (length normalization) count less, which tames popularity bias in co-occurrence.
    """
    X = item_users.tocoo(copy=True).astype(np.float32)
    n_items = float(X.shape[0])
    idf = np.log(n_items) - np.log1p(np.bincount(X.col, minlength=X.shape[1]))
    row_sums = np.asarray(X.sum(axis=1)).ravel()
    avg = row_sums.mean() if row_sums.size and row_sums.mean() > 0 else 1.0
    length_norm = (1.0 - b) + b * row_sums / avg
    X.data = X.data * (k1 + 1.0) / (k1 * length_norm[X.row] + X.data) * idf[X.col]
    return X.tocsr()


def keep_top_k(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row (the nearest neighbours)."""
    matrix = matrix.tocsr()
    indptr, indices, data = [0], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        vals, cols = matrix.data[start:end], matrix.indices[start:end]
        if vals.size > k:
            part = np.argpartition(-vals, k - 1)[:k]
            vals, cols = vals[part], cols[part]
        indices.append(cols)
        data.append(vals)
        indptr.append(indptr[-1] + vals.size)
    return sp.csr_matrix(
        (np.concatenate(data) if data else [], np.concatenate(indices) if indices else [], indptr),
        shape=matrix.shape,
        dtype=np.float32,
    )


class ItemItem(Recommender):
    """Items bought/viewed by the same people, scored ``history @ similarity``.

    ``weighting="bm25"`` BM25-weights the item-user matrix first; ``similarity`` is
    ``cosine`` (normalized co-occurrence) or ``cooccurrence`` (raw dot products).
    Each item keeps its ``neighbors`` most similar items (sparse, so it scales).
    """

    def __init__(
        self,
        neighbors: int = 100,
        weighting: str = "bm25",
        similarity: str = "cosine",
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
        event_weights: Mapping[str, float] | None = None,
        transform: str = "log1p",
    ) -> None:
        self.neighbors = neighbors
        self.weighting = weighting
        self.similarity = similarity
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.event_weights = event_weights
        self.transform = transform

    def _fit(self, weighted: pd.DataFrame, catalog: pd.DataFrame) -> None:
        im = build_matrix(weighted)
        self.items_ = im.items
        self.users_ = im.users
        self.user_index_ = {u: i for i, u in enumerate(im.users)}
        self.user_items_ = im.matrix
        item_users = self._apply_transform(im.matrix).T.tocsr()
        if self.weighting == "bm25":
            item_users = bm25_weight(item_users, self.bm25_k1, self.bm25_b)
        elif self.weighting != "none":
            raise ValueError(f"weighting must be bm25 or none, got {self.weighting!r}")
        if self.similarity == "cosine":
            norms = np.sqrt(np.asarray(item_users.multiply(item_users).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            item_users = sp.diags(1.0 / norms).astype(np.float32) @ item_users
        elif self.similarity != "cooccurrence":
            raise ValueError(f"similarity must be cosine or cooccurrence, got {self.similarity!r}")
        sim = (item_users @ item_users.T).tocsr().astype(np.float32)
        sim.setdiag(0)
        sim.eliminate_zeros()
        # row j = the neighbours of item j, so history @ S adds up each history
        # item's neighbour list ("more like what you bought")
        self.similarity_ = keep_top_k(sim, self.neighbors)

    def _score(self, X: sp.csr_matrix) -> np.ndarray:
        return (X @ self.similarity_).toarray()

    def _score_one(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        # the zeros of the dense rows add exact zeros: the same sums as the sparse product
        return add_rows(self._dense("similarity_"), cols, vals)

    def similar_items(self, product_id: str, n: int = 10) -> list[tuple[str, float]]:
        """Nearest neighbours of one product."""
        return self.recommend([(product_id, 1.0)], n=n)
