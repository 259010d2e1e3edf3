"""The condition solver: each requirement it returns, made into a profile, decides the way it was asked.

Every case is checked through the production context builder (``build_render_context``,
computed features included) and ``Condition.evaluate``: the solver is trusted for nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tailor.context import build_render_context
from tailor.preview.coverage import realize
from tailor.rules import RuleBook
from tailor.rules.conditions import Condition
from tailor.rules.model import SegmentRule
from tailor.rules.solver import Solver, Want
from tailor.triggers import TriggerSpec

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

CONDITIONS = [
    "profile.city == 'New York'",
    "profile.city != 'New York'",
    "profile.days_since_purchase <= 14",
    "30 >= profile.days_since_signup",
    "profile.lifetime_value >= 500 and profile.lifetime_value < 501",
    "profile.lifecycle_stage in ['lapsing', 'lapsed']",
    "profile.lifecycle_stage not in ['new']",
    "profile.locale.startswith('fr')",
    "profile.days_since_signup is not none or profile.views_30d > 0",
    "profile.orders_total == 0 and (profile.days_since_signup is not none or profile.views_30d > 0)",
    "not profile.email and not context.test",
    "context.campaign == 'cart_abandonment' and not triggers.cart.active",
    "triggers.cart.active",
    "'vip' in segments and profile.city == 'Paris'",
    "not ('vip' in segments)",
    "'gift' in profile.tags",
    "profile.plan is none",
]


@pytest.fixture
def solver() -> Solver:
    segments = {"vip": Condition("profile.segment == 'vip' or profile.lifetime_value >= 500")}
    return Solver(segments, ["cart"])


TRIGGERS = {"cart": TriggerSpec(name="cart", on=frozenset({"Product Added"}), after=timedelta(hours=1))}


def decided(condition: Condition, solver: Solver, document: dict) -> bool:
    """Whether ``condition`` matches ``document``, decided the way a send decides it."""
    book = RuleBook()
    book.segments = {name: SegmentRule(name, cond) for name, cond in solver.segments.items()}
    book.triggers = TRIGGERS
    ctx = build_render_context(document, AT, book, esp_context=document.get("context"))
    return condition.evaluate(ctx.condition_names()).matched


@pytest.mark.parametrize("source", CONDITIONS)
@pytest.mark.parametrize("want", [Want.TRUE, Want.NOT_TRUE])
def test_every_solvable_requirement_decides_as_asked(source: str, want: Want, solver: Solver) -> None:
    condition = Condition(source)
    requirements = solver.solve(condition, want)
    assert requirements, "the solver gave no way at all"
    checked = 0
    for requirement in requirements:
        if requirement.unsolved or requirement.impossible:
            continue
        for explicit in (False, True):
            document = realize(requirement, "solver-test", AT, triggers=TRIGGERS, explicit=explicit)
            if document is None:
                continue
            checked += 1
            if decided(condition, solver, document) == (want is Want.TRUE):
                break
        else:
            pytest.fail(f"{source!r} wanted {want.value}: {requirement} did not decide that way")
    assert checked, f"no requirement of {source!r} could be made into data"


def test_an_or_gives_one_requirement_per_branch(solver: Solver) -> None:
    found = solver.solve(Condition("profile.a == 1 or profile.b == 2"), Want.TRUE)
    assert [[p.path for p in r.predicates] for r in found] == [["profile.a"], ["profile.b"]]


def test_a_rule_that_must_lose_may_leave_data_out(solver: Solver) -> None:
    # `not true` is satisfied by missing data: a comparison with nothing never matches
    (requirement,) = solver.solve(Condition("profile.days_since_purchase <= 14"), Want.NOT_TRUE)
    assert all(p.unset_ok for p in requirement.predicates)


def test_undeclared_segments_and_triggers_are_impossible_with_the_reason(solver: Solver) -> None:
    (segment,) = solver.solve(Condition("'knitwear_fan' in segments"), Want.TRUE)
    assert segment.impossible == ("segment 'knitwear_fan' is not declared in rules/",)
    (trigger,) = solver.solve(Condition("triggers.cart_abandon.active"), Want.TRUE)
    assert trigger.impossible == ("trigger 'cart_abandon' is not declared in rules/",)


def test_what_it_cannot_read_is_named_not_guessed(solver: Solver) -> None:
    (requirement,) = solver.solve(Condition("now.hour < 12"), Want.TRUE)
    assert requirement.unsolved == ("now.hour < 12",)
    (filtered,) = solver.solve(Condition("profile.tags | length > 2"), Want.TRUE)
    assert filtered.unsolved


def test_segment_membership_is_solved_through_the_segment_condition(solver: Solver) -> None:
    found = solver.solve(Condition("'vip' in segments"), Want.TRUE)
    assert [[p.text for p in r.predicates] for r in found] == [
        ["profile.segment == 'vip'"],
        ["profile.lifetime_value >= 500"],
    ]


def test_a_clustering_label_is_named_as_unsolvable_not_as_undeclared():
    solver = Solver({}, [], learned=["champions"])
    (requirement,) = solver.solve(Condition("'champions' in segments"), Want.TRUE)
    assert not requirement.impossible
    assert requirement.unsolved == ("'champions' in segments (a label the clustering model assigns)",)
