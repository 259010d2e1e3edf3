"""Computed profile features from the event history."""

from tailor.features.names import FEATURE_NAMES

__all__ = ["FEATURE_NAMES"]
