"""Names of the computed profile features (``profile.<name>`` in conditions)."""

FEATURE_NAMES: tuple[str, ...] = (
    "days_since_purchase",
    "days_since_first_seen",
    "days_since_signup",
    "orders_total",
    "orders_90d",
    "lifetime_value",
    "average_order_value",
    "views_30d",
    "views_by_category_30d",
    "favorite_category",
    "favorite_brand",
    "engagement_score",
    "lifecycle_stage",
)

#: the features that are one label each (drift compares their shares)
LABEL_FEATURES: tuple[str, ...] = ("favorite_category", "favorite_brand", "lifecycle_stage")
#: the features that are numbers (clustering and drift's KS tests need numbers)
NUMERIC_FEATURES: tuple[str, ...] = tuple(
    n for n in FEATURE_NAMES if n not in LABEL_FEATURES and n != "views_by_category_30d"
)
#: the numeric features about recent behaviour. Drift compares these only: totals and ages
#: (``orders_total``, ``days_since_first_seen``) grow with the store's own age, so comparing
#: two moments would report every young store as drifting.
RECENT_NUMERIC_FEATURES: tuple[str, ...] = (
    "days_since_purchase",
    "orders_90d",
    "average_order_value",
    "views_30d",
    "engagement_score",
)
