"""Product recommendations: built-in models, the external service client, business
filters and the provider chain used at render time (see docs/recommendations.md)."""

from .base import NotFittedError, Recommender
from .content import ContentTFIDF
from .ease import EASE
from .hybrid import Hybrid
from .itemitem import ItemItem
from .popularity import Popularity

__all__ = ["ContentTFIDF", "EASE", "Hybrid", "ItemItem", "NotFittedError", "Popularity", "Recommender"]
