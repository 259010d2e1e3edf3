"""Products named by Segment e-commerce events, as the dicts templates show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Item fields templates rely on, and where Segment / the catalog keep them.
_EVENT_FIELDS = {
    "title": ("name", "title"),
    "price": ("price",),
    "image": ("image_url", "image"),
    "url": ("url",),
    "category": ("category",),
    "brand": ("brand",),
    "currency": ("currency",),
}
_CATALOG_FIELDS = {
    "title": ("title", "name"),
    "price": ("price",),
    "image": ("image_url", "image"),
    "url": ("url",),
    "category": ("category",),
    "brand": ("brand",),
    "currency": ("currency",),
}


def product_id(product: Mapping[str, Any]) -> str | None:
    """Segment names the id ``product_id``; some senders only give ``sku`` or ``id``."""
    for key in ("product_id", "sku", "id"):
        value = product.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def products_of(properties: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], bool]:
    """``(products, is_snapshot)``: ``products[]`` lists a whole cart or order."""
    listed = properties.get("products")
    if isinstance(listed, list):
        return [p for p in listed if isinstance(p, Mapping) and product_id(p)], True
    if product_id(properties):
        return [properties], False
    return [], False


def _first(source: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = source.get(key)
        if value not in (None, ""):
            return value
    return None


def _number(value: Any) -> Any:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def make_item(product: Mapping[str, Any], currency: Any = None) -> dict[str, Any]:
    """An item dict (``id, title, price, quantity, image, url, category, brand``)."""
    item: dict[str, Any] = {"id": product_id(product), "quantity": 0}
    for field, keys in _EVENT_FIELDS.items():
        item[field] = _first(product, keys)
    item["price"] = _number(item["price"])
    if item["currency"] is None:
        item["currency"] = currency
    return item


def enrich(item: dict[str, Any], catalog: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    """Fill fields the event lacked from the catalog (the event's values win)."""
    row = catalog.get(item["id"]) if catalog else None
    if row:
        for field, keys in _CATALOG_FIELDS.items():
            if item.get(field) in (None, ""):
                item[field] = _first(row, keys)
        item["price"] = _number(item["price"])
        if "stock" in row:
            item["in_stock"] = _in_stock(row["stock"])
    return item


def _in_stock(stock: Any) -> bool:
    try:
        return int(float(stock)) > 0
    except (TypeError, ValueError):
        return True
