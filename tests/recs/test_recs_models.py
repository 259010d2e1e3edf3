"""Built-in recommenders: fit/recommend contract and each model's behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from recs_data import event
from sklearn.base import clone

from tailor.recommendations import EASE, ContentTFIDF, Hybrid, ItemItem, NotFittedError, Popularity
from tailor.recommendations.interactions import event_weight, profile_history, weigh

CF_MODELS = [ItemItem, lambda: EASE(l2=1.0), Hybrid]


def ids(recs):
    return [pid for pid, _ in recs]


@pytest.mark.parametrize("make", CF_MODELS, ids=["itemitem", "ease", "hybrid"])
def test_recommends_the_co_bought_item_for_an_unseen_history(make, interactions, catalog):
    model = make().fit(interactions, catalog)
    # a brand-new visitor (not in training) who just looked at the shoe
    recs = model.recommend([("shoe-1", 1.0)], n=3)
    assert recs[0][0] == "sock-1"
    assert "shoe-1" not in ids(recs)  # what is in the history is not recommended back
    assert all(score > 0 for _, score in recs)
    assert [s for _, s in recs] == sorted((s for _, s in recs), reverse=True)


@pytest.mark.parametrize("make", CF_MODELS, ids=["itemitem", "ease", "hybrid"])
def test_known_user_id_and_unknown_user_id(make, interactions, catalog):
    model = make().fit(interactions, catalog)
    assert ids(model.recommend("cook-0", n=5)) == ids(model.recommend(["pan-1", "pan-2", "knife-1"], n=5))
    assert model.recommend("nobody", n=5) == [] or isinstance(model, Hybrid)


def test_plain_product_ids_and_mapping_histories_are_accepted(interactions):
    model = ItemItem().fit(interactions)
    assert ids(model.recommend(["jacket-1"], n=1)) == ["jacket-3"]
    assert ids(model.recommend({"jacket-1": 2.0}, n=1)) == ["jacket-3"]
    # products the model never saw are ignored, not an error
    assert model.recommend(["no-such-sku"], n=3) == []


def test_exclude_and_filter_seen(interactions):
    model = ItemItem().fit(interactions)
    assert "pan-2" not in ids(model.recommend(["pan-1"], n=5, exclude={"pan-2"}))
    assert ids(model.recommend(["pan-1"], n=5))[0] == "pan-2"
    with_seen = ids(ItemItem().fit(interactions).recommend(["pan-1", "pan-2"], n=5, filter_seen=False))
    assert "pan-1" in with_seen or "pan-2" in with_seen


def test_n_limits_and_zero(interactions):
    model = ItemItem().fit(interactions)
    assert len(model.recommend(["pan-1"], n=1)) == 1
    assert model.recommend(["pan-1"], n=0) == []


def test_not_fitted_raises():
    with pytest.raises(NotFittedError):
        ItemItem().recommend(["a"])


def test_event_weights_rank_purchases_above_views():
    assert event_weight("Product Viewed") < event_weight("Product Added") < event_weight("Order Completed")
    assert event_weight("add_to_cart") == event_weight("Product Added")
    assert event_weight("Product Viewed", {"view": 9.0}) == 9.0
    frame = pd.DataFrame(
        {"user_id": ["a", "a"], "product_id": ["x", "y"], "event": ["Product Viewed", "Order Completed"]}
    )
    assert weigh(frame)["weight"].tolist() == [1.0, 5.0]


def test_popularity_uses_event_weights_and_is_configurable():
    frame = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "product_id": ["viewed", "viewed", "viewed", "bought"],
            "event": ["Product Viewed"] * 3 + ["Order Completed"],
        }
    )
    assert ids(Popularity(half_life_days=None).fit(frame).top(2)) == ["bought", "viewed"]
    heavy_views = Popularity(half_life_days=None, event_weights={"view": 10.0}).fit(frame)
    assert ids(heavy_views.top(2)) == ["viewed", "bought"]


def test_popularity_recency_decay():
    frame = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "product_id": ["old", "old", "old", "new"],
            "weight": [1.0, 1.0, 1.0, 1.0],
            "timestamp": ["2026-01-01T00:00:00Z"] * 3 + ["2026-11-20T00:00:00Z"],
        }
    )
    assert ids(Popularity(half_life_days=None).fit(frame).top(2)) == ["old", "new"]
    decayed = Popularity(half_life_days=7).fit(frame)
    assert ids(decayed.top(2)) == ["new", "old"]
    assert decayed.top(1)[0][1] == pytest.approx(1.0)  # "now" = newest event: no decay


def test_popularity_per_category(interactions, catalog):
    model = Popularity().fit(interactions, catalog)
    kitchen = ids(model.top(5, category="kitchen"))
    assert set(kitchen) == {"pan-1", "pan-2", "knife-1"}
    assert knife_last(kitchen)
    assert set(ids(model.recommend(None, n=2))) == {"shoe-1", "sock-1"}  # 10 purchases each
    assert model.top(3, category="Garden") == []


def knife_last(ranked):
    return ranked[-1] == "knife-1"


def test_itemitem_cooccurrence_without_bm25(interactions):
    model = ItemItem(weighting="none", similarity="cooccurrence").fit(interactions)
    assert ids(model.recommend(["shoe-1"], n=1)) == ["sock-1"]
    assert ids(model.similar_items("jacket-3", n=1)) == ["jacket-1"]


def test_ease_caps_items_and_uses_float32(interactions):
    model = EASE(max_items=3).fit(interactions)
    assert len(model.items_) == 3
    assert model.weights_.dtype == np.float32
    assert np.allclose(np.diag(model.weights_), 0)
    # capped-away items are neither recommended nor an error in a history
    kept = set(model.items_)
    assert all(pid in kept for pid, _ in model.recommend(["shoe-1", "knife-1"], n=5))


def test_content_recommends_a_cold_start_item(interactions, catalog):
    model = ContentTFIDF().fit(interactions, catalog)
    # shoe-3 has no interactions at all, but reads like shoe-1
    assert ids(model.recommend(["shoe-1"], n=1)) == ["shoe-3"]
    assert ids(model.recommend(["pan-1"], n=2)) and set(ids(model.recommend(["pan-1"], n=2))) <= {"pan-2", "knife-1"}


def test_content_needs_a_catalog(interactions):
    with pytest.raises(ValueError):
        ContentTFIDF().fit(interactions)


def test_content_works_without_interactions(catalog):
    model = ContentTFIDF().fit(None, catalog)
    assert ids(model.recommend(["jacket-2"], n=1))[0] in {"jacket-3", "jacket-1"}


def test_hybrid_blends_collaborative_and_content(interactions, catalog):
    model = Hybrid().fit(interactions, catalog)
    recs = ids(model.recommend(["shoe-1"], n=4))
    assert recs[0] == "sock-1"  # collaborative signal dominates
    assert "shoe-3" in recs  # content fills in the cold-start item
    # a cold user still gets something (popularity component)
    assert model.recommend([], n=3)


def test_hybrid_without_catalog_drops_content(interactions):
    model = Hybrid().fit(interactions)
    assert "content" in model.skipped_
    assert ids(model.recommend(["pan-1"], n=1)) == ["pan-2"]


def test_hybrid_custom_components_and_weights(interactions, catalog):
    model = Hybrid({"ease": EASE(l2=1.0), "content": ContentTFIDF()}, weights={"ease": 0.0}).fit(interactions, catalog)
    assert ids(model.recommend(["shoe-1"], n=1)) == ["shoe-3"]  # content only


def test_params_in_init_support_clone():
    model = ItemItem(neighbors=7, bm25_k1=1.2)
    assert model.get_params()["neighbors"] == 7
    assert clone(model).get_params() == model.get_params()


def test_fits_are_deterministic(interactions, catalog):
    a = Hybrid().fit(interactions, catalog).recommend(["jacket-1"], n=5)
    b = Hybrid().fit(interactions.sample(frac=1.0, random_state=3), catalog).recommend(["jacket-1"], n=5)
    assert ids(a)[:1] == ids(b)[:1]
    assert ids(Hybrid().fit(interactions, catalog).recommend(["jacket-1"], n=5)) == ids(a)


def test_profile_history_from_segment_events():
    events = [
        event("Product Viewed", "a"),
        event("Product Viewed", "a"),
        event("Order Completed", "b"),
        {"type": "identify", "traits": {}},
        {"type": "track", "event": "Signed Up", "properties": {}},
    ]
    assert dict(profile_history(events)) == {"a": 2.0, "b": 5.0}


@pytest.fixture(scope="module")
def shop_models():
    from pathlib import Path

    from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file

    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    events = read_events_file(fixtures / "events.jsonl")
    catalog = read_catalog_file(fixtures / "catalog.csv")
    return fit_models(events, catalog), events


@pytest.mark.parametrize("name", ["popularity", "itemitem", "ease", "content", "hybrid"])
def test_one_history_scores_exactly_as_the_batch_does(shop_models, name):
    # A send scores one row with NumPy vectors, not SciPy matrices: the very same floats
    # (a rounding difference would reorder tied products and change the email).
    models, events = shop_models
    model = models[name]
    weighted = weigh(events).groupby(["user_id", "product_id"], sort=False)["weight"].sum().reset_index()
    histories = [list(zip(rows["product_id"], rows["weight"], strict=True)) for _, rows in weighted.groupby("user_id")]
    histories = histories[:200] + [["no-such-product"], [], list(zip(model.items_[:40], range(1, 41), strict=True))]
    for history in histories:
        batch = model.score_batch(model.history_vector(history))[0]
        cols, vals = model._history_entries(history)
        assert np.array_equal(model.score_one(cols, vals), batch), history


@pytest.mark.parametrize("name", ["itemitem", "ease", "content", "hybrid"])
def test_histories_scored_together_are_the_floats_each_scores_alone(shop_models, name):
    # A campaign partition scores its recipients in one sparse product (``prescored``): each
    # row must be the very floats of the one-recipient path, or tied products would reorder.
    from tailor.recommendations.base import _prescored

    models, events = shop_models
    model = models[name]
    weighted = weigh(events).groupby(["user_id", "product_id"], sort=False)["weight"].sum().reset_index()
    histories = [list(zip(rows["product_id"], rows["weight"], strict=True)) for _, rows in weighted.groupby("user_id")]
    histories += [["no-such-product"], [], list(zip(model.items_[:40], range(1, 41), strict=True))]
    alone = [model.recommend(h, n=30) for h in histories]
    with model.prescored(histories):
        found = _prescored.get()
        assert found is not None and found[0] is model and len(found[1]) > 100
        for history in histories:
            cols, vals = model._history_entries(history)
            if len(cols):
                assert np.array_equal(found[1][(cols.tobytes(), vals.tobytes())], model.score_one(cols, vals))
        assert [model.recommend(h, n=30) for h in histories] == alone
    assert _prescored.get() is None
