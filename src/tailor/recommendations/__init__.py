"""Product recommendations: built-in models, the external service client, business
filters and the provider chain used at render time (see docs/recommendations.md)."""

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
