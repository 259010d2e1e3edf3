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
