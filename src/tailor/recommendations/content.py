"""Content-based recommendations: TF-IDF over catalog text and attributes."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from .base import Recommender, add_rows

_DEFAULT_FIELD_WEIGHTS = {"text": 1.0, "category": 1.0, "brand": 0.5, "tags": 0.7}


def _attribute_tokens(row: Mapping[str, Any], field: str) -> list[str]:
    value = row.get(field)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    parts = value if isinstance(value, (list, tuple)) else str(value).split("|")
    return [f"{field}={p.strip().lower()}" for p in parts if str(p).strip()]


def _identity(tokens: list[str]) -> list[str]:
    # module-level (not a lambda) so fitted models stay picklable
    return tokens


class ContentTFIDF(Recommender):
    """Products that read like the ones in the history.

    Free text (title, description) and attributes (category, brand, tags, each an
    exact token so "Running Shoes" never half-matches "Shoes") are vectorized
    separately, weighted by ``field_weights`` and stacked. Needs only the catalog,
    so new products with no interactions yet are recommendable (cold start).
    """

    def __init__(
        self,
        field_weights: Mapping[str, float] | None = None,
        max_features: int = 50_000,
        ngram_range: tuple[int, int] = (1, 2),
        event_weights: Mapping[str, float] | None = None,
        transform: str = "log1p",
    ) -> None:
        self.field_weights = field_weights
        self.max_features = max_features
        self.ngram_range = ngram_range
        self.event_weights = event_weights
        self.transform = transform

    def _fit(self, weighted: pd.DataFrame, catalog: pd.DataFrame) -> None:
        if catalog.empty:
            raise ValueError("ContentTFIDF needs a catalog")
        weights = {**_DEFAULT_FIELD_WEIGHTS, **(self.field_weights or {})}
        rows = catalog.to_dict("records")
        self.items_ = catalog["id"].to_numpy(dtype=object)
        blocks = []
        texts = [
            " ".join(str(r.get(f) or "") for f in ("title", "description") if isinstance(r.get(f), str)) for r in rows
        ]
        if any(t.strip() for t in texts) and weights["text"] > 0:
            self.text_vectorizer_ = TfidfVectorizer(
                max_features=self.max_features,
                ngram_range=self.ngram_range,
                sublinear_tf=True,
                stop_words="english",
            )
            with contextlib.suppress(ValueError):  # only stop words: no vocabulary
                blocks.append(weights["text"] * self.text_vectorizer_.fit_transform(texts))
        for field in ("category", "brand", "tags"):
            tokens = [_attribute_tokens(r, field) for r in rows]
            if weights.get(field, 0) > 0 and any(tokens):
                vec = TfidfVectorizer(analyzer=_identity)
                blocks.append(weights[field] * vec.fit_transform(tokens))
        if not blocks:
            raise ValueError("catalog has no text or attributes to learn from")
        self.features_ = normalize(sp.hstack(blocks).tocsr().astype(np.float32))
        self._remember_users(weighted)

    def _score(self, X: sp.csr_matrix) -> np.ndarray:
        profile = X @ self.features_  # users x features
        return (profile @ self.features_.T).toarray()

    def _score_one(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        features = self.features_
        dtype = np.result_type(vals.dtype, features.dtype)
        if len(cols) == 0:
            return np.zeros(len(self.items_), dtype=dtype)
        # the profile row: every stored feature of every history product, weighted, added
        # up per feature in history order (``np.add.at`` adds unbuffered, in order)
        starts, ends = features.indptr[cols], features.indptr[cols + 1]
        stored = np.concatenate([np.arange(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)])
        reached = features.indices[stored]
        weights = np.repeat(vals.astype(dtype, copy=False), ends - starts)
        profile = np.zeros(features.shape[1], dtype=dtype)
        np.add.at(profile, reached, weights * features.data[stored])
        # SciPy's sparse product stores the profile's features last-reached first (its kernel
        # prepends to a linked list) and the second product adds them up in that order
        order = np.asarray(list(reversed(dict.fromkeys(reached.tolist()))), dtype=np.int64)
        order = order[profile[order] != 0]
        return add_rows(self._dense_transposed(), order, profile[order])

    def _dense_transposed(self) -> np.ndarray:
        """``features_.T`` dense (feature x item), made on first use (kept out of pickles)."""
        cache = self.__dict__.setdefault("_dense_cache", {})
        cached = cache.get("features_.T")
        if cached is None or cached[0] is not self.features_:
            cached = cache["features_.T"] = (self.features_, self.features_.T.toarray())
        return cached[1]
