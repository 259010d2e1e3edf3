"""The example shop: the repository's templates, rules, personas and fixture data, without a database."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tailor import Tailor
from tailor.preview.personas import load_personas
from tailor.recommendations import RecommendationService
from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
#: the example shop's reference "now" (docs/data-formats.md)
SHOP_NOW = "2026-11-23T12:00:00Z"

#: what an ESP sends with an order confirmation
ORDER_CONTEXT = {
    "order_id": "ORD-10042",
    "currency": "USD",
    "items": [
        {"title": "Retro Nubuck Trail Runners", "quantity": 1, "price": 129.0,
         "image": "https://cdn.example-shop.com/img/sku-0081.jpg", "url": "https://example-shop.com/p/sku-0081"},
        {"title": "Packable Recycled Nylon Quilted Vest", "quantity": 2, "price": 89.5,
         "image": "https://cdn.example-shop.com/img/sku-0030.jpg", "url": "https://example-shop.com/p/sku-0030"},
    ],
    "subtotal": 308.0, "shipping": 0.0, "total": 308.0,
    "shipping_address": {"name": "Jordan Lee", "line1": "12 Elm St", "city": "Austin", "postcode": "78701", "country": "US"},
}


@pytest.fixture(scope="session")
def shop_recommender() -> RecommendationService:
    catalog = read_catalog_file(ROOT / "fixtures" / "catalog.csv")
    models = fit_models(read_events_file(ROOT / "fixtures" / "events.jsonl"), catalog)
    return RecommendationService(catalog, models)


@pytest.fixture(scope="session")
def shop(shop_recommender) -> Tailor:
    return Tailor(ROOT / "templates", ROOT / "rules", recommender=shop_recommender)


@pytest.fixture(scope="session")
def personas() -> dict:
    return load_personas(ROOT / "fixtures" / "personas")


def shop_templates() -> list[str]:
    return sorted(p.stem for p in (ROOT / "templates").glob("*.mjml"))


def persona_names() -> list[str]:
    return sorted(p.stem for p in (ROOT / "fixtures" / "personas").glob("*.json"))


def context_for(template: str) -> dict:
    return {"order": ORDER_CONTEXT, "currency": "USD"} if template == "order_confirmation" else {}
