"""Products: one shape for a product shown in an email, wherever it comes from.

A product reaches a template from the catalog, a recommendation, a trigger's items
(built from events) or the ESP's send-time data. Each source spells it its own way
(``image_url`` in the catalog, ``image`` in Segment's spec, ``product_id`` or ``sku``
in events); this module is the one place that decides its id, its card shape, whether it
is in stock, and the currency its price is in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: the currency of an email when neither the send context nor its products name one
#: (``Settings.currency`` overrides it)
DEFAULT_CURRENCY = "USD"


def currency_of(products: Iterable[Mapping[str, Any]]) -> str | None:
    """The one currency the products are priced in, or None when they name none or several."""
    codes = {str(p["currency"]).upper() for p in products if isinstance(p, Mapping) and p.get("currency")}
    return codes.pop() if len(codes) == 1 else None


#: where each field of a product card is found, first spelling first (the catalog's and
#: Segment's names: ``title``/``name``, ``image``/``image_url``)
CARD_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "name"),
    "price": ("price",),
    "image": ("image", "image_url"),
    "url": ("url",),
    "category": ("category",),
    "brand": ("brand",),
    "currency": ("currency",),
}
_ID_KEYS = ("product_id", "sku", "id")


def product_id(product: Mapping[str, Any]) -> str | None:
    """A product's id: Segment names it ``product_id``; some senders give only ``sku`` or ``id``."""
    for key in _ID_KEYS:
        value = product.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def event_products(properties: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], bool]:
    """The products an event's properties are about, and whether they list a whole cart or order.

    ``products[]`` (Checkout Started, Order Completed) is a snapshot; otherwise the event
    itself is the product (Product Viewed, Product Added). Products without an id are skipped.
    """
    listed = properties.get("products")
    if isinstance(listed, list):
        return [p for p in listed if isinstance(p, Mapping) and product_id(p)], True
    return ([properties] if product_id(properties) else []), False


def event_product_ids(properties: Mapping[str, Any]) -> list[str]:
    """The ids of :func:`event_products`."""
    # read for every event of a history on every send: the common single-product event
    # without building the list of products first
    if not isinstance(properties.get("products"), list):
        pid = product_id(properties)
        return [pid] if pid else []
    ids = [product_id(p) for p in event_products(properties)[0]]
    return [pid for pid in ids if pid is not None]


def price_of(value: Any) -> float | None:
    """A price as a number, or None when there is none (never a string a filter would choke on)."""
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def card(product: Mapping[str, Any], catalog_row: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The product as templates show it: ``id, title, price, image, url, category, brand,
    currency`` (and ``in_stock`` when a stock is known). Fields ``product`` lacks are taken
    from ``catalog_row``; a missing text field is ``""`` and a missing price or currency None,
    so a template never prints "None"."""
    sources = [product] if catalog_row is None else [product, catalog_row]
    shown: dict[str, Any] = {"id": product_id(product) or (product_id(catalog_row) if catalog_row else None)}
    for name, keys in CARD_FIELDS.items():
        shown[name] = next(
            (s[k] for s in sources for k in keys if s.get(k) not in (None, "")), None if name in _NUMBERS else ""
        )
    shown["price"] = price_of(shown["price"])
    stocked = next((s for s in sources if "stock" in s or "in_stock" in s), None)
    if stocked is not None:
        shown["in_stock"] = in_stock(stocked)
    return shown


_NUMBERS = ("price", "currency")


def in_stock(product: Mapping[str, Any]) -> bool:
    """Stock unknown counts as in stock; ``stock <= 0`` or ``in_stock: false`` does not."""
    if product.get("in_stock") is False:
        return False
    stock = product.get("stock")
    if stock in (None, ""):
        return True
    try:
        return float(stock) > 0
    except (TypeError, ValueError):
        return True
