"""RuleBook.decide: priorities, defaults, set:, abort, consent, and the trace."""

from __future__ import annotations

import json

import pytest

from tailor.rules import RuleBook
from tailor.triggers import TriggerState

HERO = """
slot: hero
rules:
  - id: vip-new-york-winter
    when: profile.segment == 'vip' and profile.city == 'New York' and profile.days_since_purchase <= 30
    priority: 20
    block: hero/winter-promo
  - id: cart-reminder
    when: triggers.cart_abandonment.active
    priority: 30
    block: hero/cart-reminder
    set: {discount_code: COMEBACK10}
  - id: french
    when: profile.locale == 'fr_FR'
    priority: 10
    block: hero/french
default: hero/generic
"""

ABORT = """
abort:
  - id: no-email
    when: not profile.email and not context.test
    reason: no email address
  - id: converted
    when: context.campaign == 'cart' and not triggers.cart_abandonment.active
    reason: cart converted
"""


@pytest.fixture
def book(rules_dir):
    rules_dir("hero.yaml", HERO)
    rules_dir("abort.yaml", ABORT)
    rules_dir(
        "triggers.yaml",
        """
        triggers:
          cart_abandonment: {on: [Product Added], unless: [Order Completed], after: 1h}
    """,
    )
    return RuleBook.load(rules_dir.dir)


def vip(**extra):
    return {"email": "a@example.com", "segment": "vip", "city": "New York", "days_since_purchase": 3, **extra}


def cart(active=True):
    return {"cart_abandonment": TriggerState("cart_abandonment", active=active, items=[{"id": "sku-1"}])}


def test_highest_priority_wins_and_sets_variables(book):
    decision = book.decide(["hero"], {"profile": vip(), "triggers": cart()})
    assert decision.blocks == {"hero": "hero/cart-reminder"}
    assert decision.variables == {"discount_code": "COMEBACK10"}
    assert decision.rule_hits == ["cart-reminder"]
    slot = decision.trace[1]
    assert slot["slot"] == "hero" and slot["why"] == "rule cart-reminder"
    assert [r["id"] for r in slot["rules"]] == ["cart-reminder", "vip-new-york-winter", "french"]
    assert slot["rules"][1] == {
        "id": "vip-new-york-winter",
        "priority": 20,
        "matched": None,
        "skipped": "a higher-priority rule matched",
    }


def test_trace_of_a_non_match_names_the_failing_part(book):
    decision = book.decide(["hero"], {"profile": vip(days_since_purchase=45), "triggers": cart(False)})
    assert decision.blocks == {"hero": "hero/generic"}
    rules = {r["id"]: r for r in decision.trace[1]["rules"]}
    assert rules["vip-new-york-winter"]["failed"] == "profile.days_since_purchase <= 30"
    assert rules["vip-new-york-winter"]["values"] == {"profile.days_since_purchase": 45}
    assert rules["french"]["missing"] == "profile.locale"
    assert decision.trace[1]["why"] == "default"
    json.dumps(decision.as_dict())


def test_without_explain_the_same_rules_win_and_the_trace_keeps_every_rule_but_not_why(book):
    context = {"profile": vip(days_since_purchase=45, locale="fr_FR"), "triggers": cart(False)}
    explained = book.decide(["hero"], context)
    terse = book.decide(["hero"], context, explain=False)
    assert terse.blocks == explained.blocks == {"hero": "hero/french"}
    assert terse.rule_hits == explained.rule_hits == ["french"]
    rules = terse.trace[1]["rules"]
    assert [(r["id"], r["matched"]) for r in rules] == [(r["id"], r["matched"]) for r in explained.trace[1]["rules"]]
    assert rules[1] == {
        "id": "vip-new-york-winter",
        "when": "profile.segment == 'vip' and profile.city == 'New York' and profile.days_since_purchase <= 30",
        "matched": False,
        "priority": 20,
    }
    assert "failed" in explained.trace[1]["rules"][1]


def test_undeclared_or_absent_trigger_is_inactive(book):
    decision = book.decide(["hero"], {"profile": {"email": "a@x"}})
    assert decision.blocks == {"hero": "hero/generic"}
    first = decision.trace[1]["rules"][0]
    assert first["values"] == {"triggers.cart_abandonment.active": False}


def test_trigger_states_may_be_plain_dicts(book):
    decision = book.decide(["hero"], {"profile": {"email": "a@x"}, "triggers": {"cart_abandonment": {"active": True}}})
    assert decision.blocks == {"hero": "hero/cart-reminder"}


def test_no_consent_skips_behavioural_rules(book):
    context = {"profile": vip(locale="fr_FR"), "triggers": cart()}
    decision = book.decide(["hero"], context, personalized=False)
    assert decision.blocks == {"hero": "hero/french"}  # locale is a trait, not behaviour
    rules = {r["id"]: r for r in decision.trace[1]["rules"]}
    assert rules["cart-reminder"]["skipped"] == "no consent"
    # profile.days_since_purchase is a computed feature: behavioural too.
    assert rules["vip-new-york-winter"]["skipped"] == "no consent"
    assert decision.variables == {}
    assert decision.trace[1]["consent"] is False


def test_explicit_personal_marker(rules_dir):
    rules_dir(
        "hero.yaml",
        """
        slot: hero
        rules:
          - {id: a, when: "profile.city == 'Paris'", personal: true, priority: 2, block: hero/a}
          - {id: b, when: "'x' in segments", personal: false, priority: 1, block: hero/b}
        default: hero/generic
        segments:
          x: {when: "profile.city == 'Paris'"}
    """,
    )
    book = RuleBook.load(rules_dir.dir)
    decision = book.decide(["hero"], {"profile": {"city": "Paris"}, "segments": ["x"]}, personalized=False)
    assert decision.blocks == {"hero": "hero/b"}


def test_abort_rules(book):
    decision = book.decide(["hero"], {"profile": {}})
    assert decision.abort == "no email address"
    assert decision.trace[0]["abort"] == "no email address"
    assert decision.trace[0]["rules"][1]["skipped"] == "an earlier abort rule matched"
    assert "no-email" in decision.rule_hits
    assert book.decide(["hero"], {"profile": {}, "context": {"test": True}}).abort is None
    converted = book.decide(["hero"], {"profile": vip(), "context": {"campaign": "cart"}, "triggers": cart(False)})
    assert converted.abort == "cart converted"


def test_unknown_slot_is_left_to_the_template(book):
    decision = book.decide(["hero", "sidebar"], {"profile": vip()})
    assert "sidebar" not in decision.blocks
    assert decision.trace[-1] == {"slot": "sidebar", "block": None, "why": "no rules for this slot", "rules": []}


def test_blocks_for_and_default_for(book):
    assert book.blocks_for("hero") == ["hero/generic", "hero/cart-reminder", "hero/winter-promo", "hero/french"]
    assert book.default_for("hero") == "hero/generic"
    assert book.blocks_for("nope") == [] and book.default_for("nope") is None


def test_later_slot_overrides_set_variables(rules_dir):
    rules_dir(
        "a.yaml",
        """
        slot: hero
        rules: [{id: a, block: hero/a, set: {code: A, only_a: 1}}]
        default: hero/generic
    """,
    )
    rules_dir(
        "b.yaml",
        """
        slot: footer
        rules: [{id: b, block: footer/b, set: {code: B}}]
        default: footer/generic
    """,
    )
    decision = RuleBook.load(rules_dir.dir).decide(["hero", "footer"], {})
    assert decision.variables == {"code": "B", "only_a": 1}


def test_segments_for(rules_dir):
    rules_dir(
        "segments.yaml",
        """
        segments:
          vip: {when: profile.lifetime_value >= 500}
          big_vip: {when: "'vip' in segments and profile.lifetime_value >= 1000"}
          french: {when: "profile.locale == 'fr_FR'", personal: false}
    """,
    )
    book = RuleBook.load(rules_dir.dir)
    assert book.segments_for({"profile": {"lifetime_value": 1200, "locale": "fr_FR"}}) == ["vip", "big_vip", "french"]
    assert book.segments_for({"profile": {"lifetime_value": 700}}) == ["vip"]
    assert book.segments_for({"profile": {}}) == []
    assert book.segments_for({"profile": {"lifetime_value": 1200, "locale": "fr_FR"}}, personalized=False) == ["french"]
