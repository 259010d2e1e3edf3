"""The example shop's paths, reference time and ESP contexts, shared by the shop tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the example shop's reference "now" (docs/data-formats.md)
SHOP_NOW = "2026-11-23T12:00:00Z"

#: what an ESP sends with an order confirmation
ORDER_CONTEXT = {
    "order_id": "ORD-10042",
    "currency": "USD",
    "items": [
        {
            "title": "Retro Nubuck Trail Runners",
            "quantity": 1,
            "price": 129.0,
            "image": "https://cdn.example-shop.com/img/sku-0081.jpg",
            "url": "https://example-shop.com/p/sku-0081",
        },
        {
            "title": "Packable Recycled Nylon Quilted Vest",
            "quantity": 2,
            "price": 89.5,
            "image": "https://cdn.example-shop.com/img/sku-0030.jpg",
            "url": "https://example-shop.com/p/sku-0030",
        },
    ],
    "subtotal": 308.0,
    "shipping": 0.0,
    "total": 308.0,
    "shipping_address": {
        "name": "Jordan Lee",
        "line1": "12 Elm St",
        "city": "Austin",
        "postcode": "78701",
        "country": "US",
    },
}


def shop_templates() -> list[str]:
    return sorted(p.stem for p in (ROOT / "templates").glob("*.mjml"))


def persona_names() -> list[str]:
    return sorted(p.stem for p in (ROOT / "fixtures" / "personas").glob("*.json"))


def context_for(template: str) -> dict:
    return {"order": ORDER_CONTEXT, "currency": "USD"} if template == "order_confirmation" else {}
