"""Business filters: every rule, the YAML format and its error reporting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recs_data import CATALOG, event

from tailor.problems import ProblemError
from tailor.recommendations.filters import (
    BusinessFilters,
    FilterRules,
    Verdicts,
    check_file,
    parse_duration,
    purchased_products,
    rules_from_mapping,
)
from tailor.workspace import Workspace

BY_ID = {p["id"]: p for p in CATALOG}
ALL = [(p["id"], float(len(CATALOG) - i)) for i, p in enumerate(CATALOG)]  # catalog order = score order


def run(rules: dict, candidates=ALL, n=20, **kwargs):
    return BusinessFilters(rules_from_mapping(rules)).apply(candidates, BY_ID, n, **kwargs)


def test_defaults_drop_out_of_stock_unknown_and_duplicates():
    out = run({}, candidates=[("jacket-2", 3.0), ("ghost", 2.0), ("pan-1", 1.0), ("pan-1", 0.5)])
    assert out.products == ["pan-1"]
    assert out.dropped == {"out_of_stock": 1, "unknown": 1, "duplicate": 1}


def test_in_stock_can_be_turned_off():
    assert "jacket-2" in run({"in_stock": False}).products


def test_purchased_and_excluded_are_dropped():
    out = BusinessFilters().apply(ALL, BY_ID, 20, purchased={"shoe-1"}, exclude={"pan-1"})
    assert "shoe-1" not in out.products and "pan-1" not in out.products
    assert out.dropped["purchased"] == 1 and out.dropped["excluded"] == 1


def test_exclude_categories_brands_products_case_insensitive():
    out = run({"exclude_categories": ["kitchen"], "exclude_brands": ["ACME"], "exclude_products": ["jacket-1"]})
    products = {BY_ID[p]["category"] for p in out.products}
    assert "Kitchen" not in products
    assert not any(BY_ID[p]["brand"] == "Acme" for p in out.products)
    assert "jacket-1" not in out.products


def test_price_range():
    out = run({"price": {"min": 50, "max": 130}})
    assert out.products and all(50 <= BY_ID[p]["price"] <= 130 for p in out.products)


def test_max_per_category_and_brand():
    out = run({"max_per_category": 1})
    cats = [BY_ID[p]["category"] for p in out.products]
    assert len(cats) == len(set(cats)) == 4
    out = run({"max_per_brand": 1})
    brands = [BY_ID[p]["brand"] for p in out.products]
    assert len(brands) == len(set(brands))


def test_pinned_items_come_first_but_still_obey_filters():
    out = run({"pinned": ["knife-1", "jacket-2"]}, n=3)
    assert out.products[0] == "knife-1"  # jacket-2 is out of stock: not pinned
    assert "jacket-2" not in out.products and len(out.products) == 3


def test_pins_do_not_resurrect_an_empty_answer():
    assert run({"pinned": ["knife-1"]}, candidates=[]).products == []


def test_boosts_reorder():
    out = run({"boost": {"brands": {"forge": 10}}}, n=2)
    assert out.products == ["pan-1", "pan-2"]
    out = run({"boost": {"products": {"knife-1": 100}}}, n=1)
    assert out.products == ["knife-1"]
    out = run({"boost": {"categories": {"Jackets": 0}}}, n=20)
    assert out.products[-2:] == ["jacket-1", "jacket-3"]


def test_diversity_interleaves_categories():
    assert run({}, n=4).products == ["shoe-1", "sock-1", "shoe-2", "jacket-1"]
    # a second shoe now needs to beat the others by 10x
    assert run({"diversity": 0.9}, n=4).products == ["shoe-1", "sock-1", "jacket-1", "pan-1"]


def test_purchased_window():
    now = datetime(2026, 11, 23, tzinfo=UTC)
    events = [
        event("Order Completed", "old", "2025-01-01T00:00:00Z"),
        event("Order Completed", "new", "2026-11-01T00:00:00Z"),
        event("Product Viewed", "viewed"),
    ]
    assert purchased_products(events, timedelta(days=90), now) == {"new"}
    assert purchased_products(events, parse_duration(True), now) == {"new", "old"}
    assert purchased_products(events, None, now) == set()


def test_durations():
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration("forever") == parse_duration(True) == timedelta.max
    assert parse_duration(False) is None
    with pytest.raises(ValueError, match="needs a unit"):
        parse_duration(30)  # 30 what? the one duration grammar asks
    with pytest.raises(ValueError):
        parse_duration("soon")


YAML = """\
recs:
  filters:
    in_stock: true
    exclude_purchased: 90d
    exclude_categories: [Gift Cards]
    price: {min: 10, max: 500}
    max_per_category: 2
    pinned: [pan-2]
    boost:
      brands: {Peak: 1.5}
    diversity: 0.3
  slots:
    cross_sell:
      max_per_category: 1
      exclude_purchased: false
"""


def test_yaml_file_with_slot_overrides(tmp_path):
    (tmp_path / "recs.yaml").write_text(YAML)
    filters = Workspace(rules=tmp_path).recs_filters
    assert filters.default.max_per_category == 2
    assert filters.default.exclude_purchased == timedelta(days=90)
    assert filters.default.boost_brands == {"peak": 1.5}
    cross = filters.for_slot("cross_sell")
    assert cross.max_per_category == 1 and cross.exclude_purchased is None
    assert cross.pinned == ("pan-2",)  # inherited from the defaults
    assert filters.for_slot("unknown-slot") == filters.default


def test_missing_file_means_defaults(tmp_path):
    assert Workspace(rules=tmp_path).recs_filters.default == FilterRules()


def test_bad_yaml_reports_file_line(tmp_path):
    path = tmp_path / "recs.yaml"
    path.write_text(
        "recs:\n  filters:\n    max_per_category: -1\n    colour: red\n  slots:\n    hero:\n      diversity: 3\n"
    )
    problems = check_file(path)
    lines = sorted((p.line, p.message) for p in problems)
    assert [line for line, _ in lines] == [3, 4, 7]
    assert "positive integer" in lines[0][1] and "colour" in lines[1][1] and "between 0 and 1" in lines[2][1]
    with pytest.raises(ProblemError):
        BusinessFilters.load(path)


def test_yaml_syntax_error_and_wrong_top_level(tmp_path):
    path = tmp_path / "recs.yaml"
    path.write_text("recs: [\n")
    assert "YAML" in check_file(path)[0].message
    path.write_text("filters: {}\n")
    assert "recs" in check_file(path)[0].message


# -- kept verdicts: a service judges each product once per slot -------------------------------

IDS = [p["id"] for p in CATALOG]
RULES = st.fixed_dictionaries(
    {},
    optional={
        "in_stock": st.booleans(),
        "exclude_categories": st.lists(st.sampled_from(["kitchen", "Shoes", "outdoor"]), max_size=2),
        "exclude_brands": st.lists(st.sampled_from(["acme", "Forge"]), max_size=1),
        "price": st.fixed_dictionaries({}, optional={"min": st.integers(0, 100), "max": st.integers(50, 300)}),
        "max_per_category": st.integers(1, 3),
        "boost": st.fixed_dictionaries(
            {}, optional={"categories": st.dictionaries(st.sampled_from(["kitchen", "shoes"]), st.floats(0, 3))}
        ),
        "diversity": st.floats(0, 1),
        "pinned": st.lists(st.sampled_from([*IDS, "ghost"]), max_size=2),
    },
)
CANDIDATES = st.lists(st.tuples(st.sampled_from([*IDS, "ghost"]), st.floats(0, 10)), max_size=15)


@settings(max_examples=200, deadline=None)
@given(RULES, st.lists(st.tuples(CANDIDATES, st.sets(st.sampled_from(IDS)), st.integers(1, 8)), min_size=1, max_size=4))
def test_kept_verdicts_give_what_judging_anew_gives(rules, sends):
    filters = BusinessFilters(rules_from_mapping(rules))
    kept = Verdicts(filters.for_slot("recs"), BY_ID)  # reused by every send, as the service does
    for candidates, purchased, n in sends:
        anew = filters.apply(candidates, BY_ID, n, purchased=purchased)
        again = filters.apply(candidates, BY_ID, n, purchased=purchased, verdicts=kept)
        assert (again.products, again.dropped) == (anew.products, anew.dropped)


def test_verdicts_kept_for_other_rules_are_not_used():
    stocked = BusinessFilters(rules_from_mapping({"in_stock": False}))
    stale = Verdicts(stocked.for_slot("recs"), BY_ID)
    out = BusinessFilters().apply([("jacket-2", 1.0)], BY_ID, 5, verdicts=stale)
    assert out.products == [] and out.dropped == {"out_of_stock": 1}
