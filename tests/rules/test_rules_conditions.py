"""Conditions: sandboxed, missing data never matches, failures are explained."""

from __future__ import annotations

import json

import pytest

from tailor.rules import Condition, ConditionError
from tailor.triggers import TriggerStates

VIP_NY = "profile.segment == 'vip' and profile.city == 'New York' and profile.days_since_purchase <= 30"


def test_match():
    profile = {"segment": "vip", "city": "New York", "days_since_purchase": 3}
    assert Condition(VIP_NY).evaluate({"profile": profile}).matched


def test_first_failing_part_with_values():
    profile = {"segment": "vip", "city": "New York", "days_since_purchase": 45}
    outcome = Condition(VIP_NY).evaluate({"profile": profile})
    assert not outcome.matched
    assert outcome.detail == {
        "failed": "profile.days_since_purchase <= 30",
        "values": {"profile.days_since_purchase": 45},
    }


def test_missing_name_is_reported_not_raised():
    outcome = Condition(VIP_NY).evaluate({"profile": {"segment": "vip"}})
    assert not outcome.matched
    assert outcome.detail["missing"] == "profile.city"
    assert outcome.detail["failed"] == "profile.city == 'New York'"


def test_missing_profile_entirely():
    outcome = Condition("profile.days_since_purchase <= 30").evaluate({})
    assert not outcome.matched
    assert outcome.detail["missing"] == "profile.days_since_purchase"


def test_none_compared_is_a_non_match_with_the_value():
    outcome = Condition("profile.days_since_purchase <= 30").evaluate({"profile": {"days_since_purchase": None}})
    assert not outcome.matched
    assert outcome.detail["values"] == {"profile.days_since_purchase": None}
    assert "TypeError" in outcome.detail["error"]


def test_failing_operand_does_not_sink_an_or():
    # None <= 30 raises inside Jinja; the other alternative must still match.
    condition = Condition("profile.days_since_purchase <= 30 or 'vip' in segments")
    assert condition.evaluate({"profile": {"days_since_purchase": None}, "segments": ["vip"]}).matched
    assert not condition.evaluate({"profile": {"days_since_purchase": None}, "segments": []}).matched


def test_not_of_unknown_does_not_match():
    condition = Condition("not (profile.days_since_purchase <= 30) and true")
    assert not condition.evaluate({"profile": {"days_since_purchase": None}}).matched


def test_or_failure_shows_every_value():
    outcome = Condition("'vip' in segments or profile.city == 'Lyon'").evaluate(
        {"segments": ["new"], "profile": {"city": "Paris"}}
    )
    assert outcome.detail["failed"] == "'vip' in segments or profile.city == 'Lyon'"
    assert outcome.detail["values"] == {"segments": ["new"], "profile.city": "Paris"}


def test_undeclared_trigger_reads_inactive():
    outcome = Condition("triggers.nope.active").evaluate({"triggers": TriggerStates()})
    assert not outcome.matched
    assert outcome.detail["values"] == {"triggers.nope.active": False}


def test_method_calls_on_missing_data():
    condition = Condition("profile.locale.startswith('fr')")
    assert condition.evaluate({"profile": {"locale": "fr_FR"}}).matched
    outcome = condition.evaluate({"profile": {}})
    assert not outcome.matched and outcome.detail["missing"] == "profile.locale"


def test_trace_detail_is_json():
    outcome = Condition("profile.tags | length > 2 and now.year > 2000").evaluate(
        {"profile": {"tags": {"a", "b"}}, "now": None}
    )
    json.dumps(outcome.detail)


@pytest.mark.parametrize("source", [True, None, "true", " True "])
def test_unconditional(source):
    condition = Condition(source)
    assert condition.always and condition.evaluate({}).matched and condition.text == "always"


def test_false_never_matches():
    assert not Condition(False).evaluate({}).matched


@pytest.mark.parametrize(
    "source",
    [
        "''.__class__",
        "x.__globals__",
        "profile['__class__']",
        "profile | attr('__class__')",
        "''.__class__.__mro__[1].__subclasses__()",
        "profile.mro",
        "__import__",
    ],
)
def test_escapes_are_refused_before_running(source):
    with pytest.raises(ConditionError, match="not allowed in the sandbox"):
        Condition(source)


def test_sandbox_caps_resources_at_run_time():
    outcome = Condition("('x' * 10000000) | length > 1").evaluate({})
    assert not outcome.matched and "ResourceLimitError" in outcome.detail["error"]


@pytest.mark.parametrize("source", ["profile.a ==", "a b", "profile | nosuchfilter", "(1"])
def test_syntax_errors(source):
    with pytest.raises(ConditionError):
        Condition(source)


def test_behavioural_inference():
    assert Condition("triggers.cart_abandonment.active").behavioural
    assert Condition("'vip' in segments").behavioural
    assert Condition("profile.days_since_purchase < 3").behavioural
    assert not Condition("profile.locale == 'fr_FR'").behavioural
    assert not Condition("context.campaign == 'x'").behavioural
