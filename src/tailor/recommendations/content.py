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

from .base import Recommender

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
