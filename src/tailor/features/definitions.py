"""What each computed feature means: shared by the one-profile and the batch paths.

All windows are half-open, ``(at - window, at]``; events after ``at`` are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tailor.vocabulary.products import product_id

ORDER = "Order Completed"
VIEW = "Product Viewed"
ADD = "Product Added"
CHECKOUT = "Checkout Started"

ORDERS_WINDOW_DAYS = 90
VIEWS_WINDOW_DAYS = 30
AFFINITY_WINDOW_DAYS = 90
ENGAGEMENT_WINDOW_DAYS = 30

#: Favourite category/brand: how much one product in each event says about taste.
AFFINITY_WEIGHTS = {VIEW: 1, ADD: 3, CHECKOUT: 3, ORDER: 5}
#: Engagement: how much each kind of event says about attention (others count 0).
ENGAGEMENT_WEIGHTS = {
    VIEW: 1,
    ADD: 3,
    CHECKOUT: 4,
    ORDER: 5,
    "Email Opened": 1,
    "Email Link Clicked": 2,
    "Products Searched": 1,
    "Cart Viewed": 1,
}
#: Raw engagement at which the score reaches ~63 of 100 (1 - 1/e).
ENGAGEMENT_SCALE = 20.0
#: Lifecycle by days since the last order; no order at all is "new".
ACTIVE_DAYS = 45
LAPSING_DAYS = 90


def order_value(properties: Mapping[str, Any]) -> float:
    """``total``, else ``revenue``, else the sum of ``products[]`` price × quantity."""
    for key in ("total", "revenue"):
        value = _number(properties.get(key))
        if value is not None:
            return value
    products = properties.get("products")
    if isinstance(products, list):
        return sum(_line_value(p) for p in products if isinstance(p, Mapping))
    return _line_value(properties)


def _line_value(product: Mapping[str, Any]) -> float:
    price = _number(product.get("price")) or 0.0
    quantity = _number(product.get("quantity"))
    return price * (1.0 if quantity is None else quantity)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


#: Profile traits that hold the sign-up time, first found wins.
SIGNUP_TRAITS = ("created_at", "signed_up_at", "createdAt")


def signup_time(traits: Mapping[str, Any] | None) -> Any:
    """The raw sign-up timestamp from the traits, or None."""
    for key in SIGNUP_TRAITS:
        if traits and traits.get(key):
            return traits[key]
    return None


def engagement_score(raw: float) -> float:
    """0–100, saturating: the 50th view in a month adds little."""
    return round(100.0 * (1.0 - math.exp(-raw / ENGAGEMENT_SCALE)), 1)


def lifecycle_stage(days_since_purchase: int | None) -> str:
    """``new`` (never bought), ``active``, ``lapsing`` or ``lapsed``."""
    if days_since_purchase is None:
        return "new"
    if days_since_purchase <= ACTIVE_DAYS:
        return "active"
    if days_since_purchase <= LAPSING_DAYS:
        return "lapsing"
    return "lapsed"


def product_attributes(
    product: Mapping[str, Any],
    catalog: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[str | None, str | None]:
    """``(category, brand)`` of a product: the event's, else the catalog's."""
    category, brand = product.get("category") or None, product.get("brand") or None
    if (category is None or brand is None) and catalog:
        pid = product_id(product)
        row = catalog.get(pid) if pid is not None else None
        if row:
            category = category or row.get("category") or None
            brand = brand or row.get("brand") or None
    return category, brand


def products_in(properties: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The products an event is about: ``products[]`` or the event itself."""
    listed = properties.get("products")
    if isinstance(listed, list):
        return [p for p in listed if isinstance(p, Mapping)]
    return [properties]


def favorite(scores: Mapping[str, float]) -> str | None:
    """Highest score; ties go to the alphabetically first name (deterministic)."""
    if not scores:
        return None
    return min(scores, key=lambda name: (-scores[name], name))
