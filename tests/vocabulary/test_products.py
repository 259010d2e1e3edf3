"""One product vocabulary: ids, the card templates show, stock and currency, from any source."""

from __future__ import annotations

from tailor.recommendations.service import product_card
from tailor.triggers.items import enrich, make_item
from tailor.vocabulary.products import card, currency_of, event_product_ids, in_stock, product_id

CATALOG_ROW = {
    "id": "sku-1",
    "title": "Wool coat",
    "price": "120.5",
    "currency": "EUR",
    "stock": 0,
    "image_url": "https://cdn.example/sku-1.jpg",
    "url": "https://shop.example/p/sku-1",
    "category": "Outerwear",
    "brand": "Northwind",
}


def test_ids_are_read_the_same_way_from_any_event():
    assert product_id({"product_id": 7, "sku": "x"}) == "7"
    assert product_id({"sku": "x", "id": "y"}) == "x"
    assert product_id({"id": "y"}) == "y"
    assert product_id({"product_id": "", "name": "no id"}) is None
    cart = {"products": [{"product_id": "a"}, {"sku": "b"}, {"id": "c"}, {"name": "no id"}, "junk"]}
    assert event_product_ids(cart) == ["a", "b", "c"]
    assert event_product_ids({"product_id": "v"}) == ["v"]
    assert event_product_ids({}) == []


def test_one_card_shape_for_the_catalog_recommendations_and_trigger_items():
    shown = card(CATALOG_ROW)
    assert shown == {
        "id": "sku-1",
        "title": "Wool coat",
        "price": 120.5,
        "image": "https://cdn.example/sku-1.jpg",  # the catalog's image_url, under the one name templates use
        "url": "https://shop.example/p/sku-1",
        "category": "Outerwear",
        "brand": "Northwind",
        "currency": "EUR",
        "in_stock": False,
    }
    assert product_card(CATALOG_ROW) == shown
    event = {"product_id": "sku-1", "name": "Coat (event)", "image": "https://cdn.example/event.jpg"}
    item = enrich(make_item(event), {"sku-1": CATALOG_ROW})
    assert item == {**shown, "title": "Coat (event)", "image": "https://cdn.example/event.jpg", "quantity": 0}


def test_missing_fields_never_print_none():
    shown = card({"id": "x"})
    assert shown["title"] == shown["image"] == shown["url"] == "" and shown["price"] is None
    assert card({"id": "x", "price": "n/a"})["price"] is None
    assert "in_stock" not in shown, "stock unknown: not claimed either way"


def test_in_stock_is_decided_once():
    assert in_stock({}) and in_stock({"stock": "12"}) and in_stock({"stock": "lots"})
    assert not in_stock({"stock": 0}) and not in_stock({"stock": "-1"}) and not in_stock({"in_stock": False})


def test_the_currency_products_share():
    assert currency_of([{"currency": "eur"}, {"currency": "EUR"}, {"price": 1}]) == "EUR"
    assert currency_of([{"currency": "EUR"}, {"currency": "USD"}]) is None
    assert currency_of([]) is None
