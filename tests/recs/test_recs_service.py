"""The provider chain without an external service: model → category → popular → hidden."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from recs_data import event, profile

from tailor.recommendations import BusinessFilters, Hybrid, Popularity, RecommendationService
from tailor.recommendations.filters import rules_from_mapping
from tailor.recommendations.service import favorite_category

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def models(interactions, catalog):
    return {"hybrid": Hybrid().fit(interactions, catalog), "popularity": Popularity().fit(interactions, catalog)}


@pytest.fixture
def service(models, catalog):
    return RecommendationService(catalog, models)


def outcomes(result):
    return [(a["provider"], a["outcome"]) for a in result.attempts]


def test_model_answers_for_a_history(service):
    result = service.recommend(profile([event("Product Viewed", "pan-1")]), n=2, now=NOW)
    assert result.provider == "hybrid"
    assert [p["id"] for p in result.products][0] == "pan-2"
    assert outcomes(result)[0] == ("hybrid", "ok")


def test_products_are_template_ready(service):
    card = service.recommend(profile([event("Product Viewed", "pan-1")]), n=1, now=NOW).products[0]
    assert card == {
        "id": "pan-2",
        "title": "Steel saucepan",
        "url": "https://shop.example.com/p/pan-2",
        "image": "https://cdn.example.com/pan-2.jpg",
        "price": 45.0,
        "currency": "EUR",
        "category": "Kitchen",
        "brand": "Forge",
        "in_stock": True,  # the catalog knows its stock
    }


def test_purchased_products_are_not_recommended(service):
    bought = profile([event("Order Completed", "shoe-1", "2026-11-20T00:00:00Z")])
    result = service.recommend(bought, n=6, now=NOW)
    ids = [p["id"] for p in result.products]
    assert "shoe-1" not in ids and ids[0] == "sock-1"


def test_no_history_falls_to_category_from_features_then_popular(service):
    result = service.recommend(profile([]), n=2, features={"favorite_category": "Kitchen"}, now=NOW)
    assert result.provider == "category_popular"
    assert outcomes(result)[0] == ("hybrid", "skipped")
    assert result.attempts[0]["reason"] == "no history"
    assert {p["category"] for p in result.products} == {"Kitchen"}

    result = service.recommend(profile([]), n=2, now=NOW)
    assert result.provider == "popular"
    assert outcomes(result) == [("hybrid", "skipped"), ("category_popular", "skipped"), ("popular", "ok")]


def test_favourite_category_is_computed_from_events(catalog):
    events = [event("Product Viewed", "jacket-1"), event("Product Viewed", "pan-1"), event("Order Completed", "pan-2")]
    assert favorite_category(events, {p["id"]: p for p in catalog}) == "Kitchen"


def test_model_with_nothing_left_falls_to_category(models, catalog):
    # everything the model suggests for a cook is excluded by a brand rule
    filters = BusinessFilters(rules_from_mapping({"exclude_brands": ["Forge", "Blade"], "exclude_categories": []}))
    service = RecommendationService(
        catalog,
        {"itemitem": models["hybrid"].components_["itemitem"], "popularity": models["popularity"]},
        filters=filters,
        backfill=False,
    )
    history = [
        event("Order Completed", "pan-1", "2026-11-20T00:00:00Z"),
        event("Product Viewed", "jacket-1"),
        event("Order Completed", "pan-2", "2026-11-20T00:00:00Z"),
    ]
    result = service.recommend(profile(history), n=3, now=NOW)
    assert outcomes(result)[0][0] == "itemitem"
    assert result.provider in {"itemitem", "category_popular", "popular"}
    assert all(p["brand"] not in {"Forge", "Blade"} for p in result.products)


def test_no_consent_means_popularity_only(service):
    history = [event("Product Viewed", "pan-1")] * 3
    result = service.recommend(profile(history, consent=False), n=3, now=NOW)
    assert result.provider == "popular"
    assert outcomes(result) == [("hybrid", "skipped"), ("category_popular", "skipped"), ("popular", "ok")]
    assert all(a["reason"] == "no personalization consent" for a in result.attempts[:2])
    # same outcome when the caller says so
    result = service.recommend(profile(history), n=3, personalized=False, now=NOW)
    assert result.provider == "popular"
    assert [p["id"] for p in result.products] == [
        p["id"] for p in service.recommend(profile([]), n=3, now=NOW).products
    ]


def test_everything_filtered_hides_the_block(models, catalog):
    filters = BusinessFilters(rules_from_mapping({"price": {"min": 10_000}}))
    result = RecommendationService(catalog, models, filters=filters).recommend(
        profile([event("Product Viewed", "pan-1")]), now=NOW
    )
    assert result.provider is None and result.hidden and result.products == []
    assert [o for _, o in outcomes(result)] == ["empty", "empty", "empty"]
    assert "dropped" in result.attempts[-1]["reason"]


def test_min_results_moves_on_to_the_next_provider(models, catalog):
    filters = BusinessFilters(rules_from_mapping({"min_results": 10, "in_stock": False}))
    result = RecommendationService(catalog, models, filters=filters).recommend(
        profile([event("Product Viewed", "pan-1")]), n=10, now=NOW
    )
    assert outcomes(result) == [("hybrid", "empty"), ("category_popular", "empty"), ("popular", "ok")]
    assert "min_results 10" in result.attempts[0]["reason"]
    # products without any interactions come last in the global list
    assert result.products[-1]["id"] == "shoe-3" and len(result.products) == 10


def test_short_answers_are_backfilled(models, catalog):
    result = RecommendationService(catalog, models).recommend(
        profile([]), n=4, features={"favorite_category": "Kitchen"}, now=NOW
    )
    assert result.provider == "category_popular"
    assert len(result.products) == 4  # 3 kitchen products + 1 popular
    assert result.attempts[-1] == {"provider": "popular", "outcome": "ok", "reason": "backfill", "count": 1}
    no_backfill = RecommendationService(catalog, models, backfill=False).recommend(
        profile([]), n=4, features={"favorite_category": "Kitchen"}, now=NOW
    )
    assert len(no_backfill.products) == 3


def test_without_models_catalog_order_stands_in(catalog):
    service = RecommendationService(catalog)
    result = service.recommend(profile([event("Product Viewed", "pan-1")]), n=2, now=NOW)
    assert result.provider == "category_popular"
    assert outcomes(result)[0] == ("model", "skipped")
    result = service.recommend(profile([]), n=2, now=NOW)
    assert result.provider == "popular" and "catalog order" in result.attempts[-1]["reason"]
    assert [p["id"] for p in result.products] == ["shoe-1", "sock-1"]


def test_set_models_swaps_the_model(catalog, models):
    service = RecommendationService(catalog)
    assert service.recommend(profile([event("Product Viewed", "pan-1")]), n=1, now=NOW).provider == "category_popular"
    service.set_models(models)
    assert service.recommend(profile([event("Product Viewed", "pan-1")]), n=1, now=NOW).provider == "hybrid"


def test_a_broken_model_falls_back(catalog, models):
    class Broken(Popularity):
        def recommend(self, *args, **kwargs):
            raise RuntimeError("boom")

    service = RecommendationService(catalog, {"ease": Broken(), "popularity": models["popularity"]})
    result = service.recommend(profile([event("Product Viewed", "pan-1")]), n=2, now=NOW)
    assert outcomes(result)[0] == ("ease", "error") and "boom" in result.attempts[0]["reason"]
    assert result.provider == "category_popular"


def test_slot_filters_apply_per_slot(catalog, models):
    filters = BusinessFilters.from_mapping(
        {"slots": {"kitchen_only": {"exclude_categories": ["Shoes", "Socks", "Jackets"]}}}
    )
    service = RecommendationService(catalog, models, filters=filters)
    result = service.recommend(profile([]), n=3, slot="kitchen_only", now=NOW)
    assert {p["category"] for p in result.products} == {"Kitchen"}
    assert {p["category"] for p in service.recommend(profile([]), n=3, now=NOW).products} != {"Kitchen"}


def test_from_store_fits_in_memory_without_artifacts_and_reloads(tmp_path, interactions, catalog):
    from tailor.config import Settings
    from tailor.recommendations import save_models

    class FakeStore:
        def interactions(self):
            return interactions

        def catalog(self):
            return catalog

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "recs.yaml").write_text("recs:\n  filters:\n    exclude_categories: [Socks]\n")
    settings = Settings().with_values(artifacts=tmp_path / "artifacts", rules=tmp_path / "rules")
    service = RecommendationService.from_store(FakeStore(), settings=settings)
    result = service.recommend(profile([event("Product Viewed", "shoe-1")]), n=3, now=NOW)
    assert result.provider == "hybrid"
    assert "sock-1" not in [p["id"] for p in result.products]  # the YAML filter applies
    assert service.catalog_index["pan-1"]["title"] == "Cast iron pan"

    assert service.reload(tmp_path / "artifacts") is False
    save_models({"popularity": Popularity().fit(interactions, catalog)}, tmp_path / "artifacts")
    assert service.reload(tmp_path / "artifacts") is True
    assert service.recommend(profile([event("Product Viewed", "shoe-1")]), n=3, now=NOW).provider != "hybrid"


def test_a_partition_scored_ahead_answers_as_each_recipient_alone(service, interactions, catalog, models):
    from tailor.recommendations.base import _prescored

    people = [
        profile([event("Product Viewed", "pan-1")]),
        profile([event("Product Viewed", "pan-1"), event("Order Completed", "pan-2")]),
        {**profile([event("Product Viewed", "pan-1")]), "id": "someone-else"},
        {"id": "odd", "events": 7},  # an inline document its render will refuse: no reason to stop the others
    ]
    alone = [service.recommend(p, n=3, now=NOW) for p in people[:3]]
    with service.prescored(people):
        scored = _prescored.get()
        assert scored is not None and scored[0] is models["hybrid"] and len(scored[1]) == 2
        assert [service.recommend(p, n=3, now=NOW) for p in people[:3]] == alone

    class Unbatched(Hybrid):
        def score_batch(self, X):
            raise RuntimeError("boom")

    # scoring ahead fails: each recipient is scored alone, as always
    unbatched = RecommendationService(catalog, {**models, "hybrid": Unbatched().fit(interactions, catalog)})
    with unbatched.prescored(people):
        assert _prescored.get() is None
        assert [unbatched.recommend(p, n=3, now=NOW) for p in people[:3]] == alone
