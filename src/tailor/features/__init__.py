"""Computed profile features from the event history (one profile, or pandas batch)."""

from tailor.features.names import FEATURE_NAMES
from tailor.features.single import compute_features

__all__ = ["FEATURE_NAMES", "compute_features", "compute_features_frame", "features_from_row"]


def __getattr__(name: str):
    # pandas is imported only by the batch path: a render must not pay for it.
    if name in ("compute_features_frame", "features_from_row"):
        from tailor.features import frame

        return getattr(frame, name)
    raise AttributeError(name)
