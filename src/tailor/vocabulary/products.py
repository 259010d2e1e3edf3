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
