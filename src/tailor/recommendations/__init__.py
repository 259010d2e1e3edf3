"""Product recommendations: built-in models, the external service client, business
filters and the provider chain used at render time (see docs/recommendations.md).

The names below load on first use (PEP 562): the models pull in numpy, pandas, SciPy
and scikit-learn, which a render without a trained model (``tailor render --profile``)
never needs, and which cost most of a cold CLI start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import NotFittedError, Recommender
    from .content import ContentTFIDF
    from .ease import EASE
    from .external import CircuitBreaker, ExternalError, ExternalRecsClient, TTLCache
    from .filters import BusinessFilters, FilterRules
    from .hybrid import Hybrid
    from .interactions import DEFAULT_EVENT_WEIGHTS, profile_history
    from .itemitem import ItemItem
    from .persistence import load_latest, save_models
    from .popularity import Popularity
    from .service import RecommendationService, RecResult, product_card

#: public name -> the submodule that defines it
_WHERE = {
    "NotFittedError": "base",
    "Recommender": "base",
    "ContentTFIDF": "content",
    "EASE": "ease",
    "CircuitBreaker": "external",
    "ExternalError": "external",
    "ExternalRecsClient": "external",
    "TTLCache": "external",
    "BusinessFilters": "filters",
    "FilterRules": "filters",
    "Hybrid": "hybrid",
    "DEFAULT_EVENT_WEIGHTS": "interactions",
    "profile_history": "interactions",
    "ItemItem": "itemitem",
    "load_latest": "persistence",
    "save_models": "persistence",
    "Popularity": "popularity",
    "RecommendationService": "service",
    "RecResult": "service",
    "product_card": "service",
}

__all__ = [
    "BusinessFilters",
    "CircuitBreaker",
    "ContentTFIDF",
    "DEFAULT_EVENT_WEIGHTS",
    "EASE",
    "ExternalError",
    "ExternalRecsClient",
    "FilterRules",
    "Hybrid",
    "ItemItem",
    "NotFittedError",
    "Popularity",
    "RecResult",
    "RecommendationService",
    "Recommender",
    "TTLCache",
    "load_latest",
    "product_card",
    "profile_history",
    "save_models",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # looked up once
    return value
