"""Products named by Segment e-commerce events, as the items a trigger shows (``triggers.<name>.items``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tailor.vocabulary.products import card


def make_item(product: Mapping[str, Any], currency: Any = None) -> dict[str, Any]:
    """An item: the product's card (:func:`tailor.vocabulary.products.card`) and a quantity.

    ``currency`` is the event's, for products of a ``products[]`` list that name none.
    """
    item = {**card(product), "quantity": 0}
    if item["currency"] is None:
        item["currency"] = currency
    return item


def enrich(item: dict[str, Any], catalog: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    """Fill fields the event lacked from the catalog (the event's values win), and the stock."""
    row = catalog.get(item["id"]) if catalog else None
    if not row:
        return item
    return {**card(item, row), "quantity": item["quantity"]}
