"""One duration grammar: what works in one file works in every file, with one message when it does not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tailor.experiments.spec import load_experiments
from tailor.privacy.retention import PolicyError, RetentionPolicy
from tailor.recommendations.filters import rules_from_mapping
from tailor.rules import RuleBook
from tailor.rules.schema import DURATION_PATTERN
from tailor.triggers import TriggerSpec
from tailor.vocabulary.durations import _GRAMMAR, NotADuration, format_duration, parse_duration, parse_window

SPELLINGS = {
    "90s": timedelta(seconds=90),
    "30m": timedelta(minutes=30),
    "4h": timedelta(hours=4),
    "1.5d": timedelta(days=1, hours=12),
    " 2w ": timedelta(weeks=2),
    "7 d": timedelta(days=7),
}


@pytest.mark.parametrize(("text", "expected"), SPELLINGS.items())
def test_grammar(text, expected):
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("bad", ["one hour", "7 days", "7", "-3d", "d", "", True, None])
def test_anything_else_is_refused_in_the_marketers_words(bad):
    with pytest.raises(NotADuration, match="use a duration such as 4h or 1.5d"):
        parse_duration(bad)


def test_a_bare_number_asks_for_a_unit():
    with pytest.raises(NotADuration, match="30 needs a unit"):
        parse_duration(30)


def test_forever_only_where_a_window_may_be_endless():
    assert parse_window("forever") is None and parse_window("Forever") is None
    assert format_duration(None) == "forever"
    with pytest.raises(NotADuration, match="cannot be forever"):
        parse_duration("forever")


def test_the_schema_pattern_is_the_grammar():
    import re

    for text in [*SPELLINGS, "one hour", "7", "1.d", "forever"]:
        assert bool(re.match(DURATION_PATTERN, text)) == bool(_GRAMMAR.match(text)), text


@pytest.mark.parametrize("text", ["90s", "1.5d", "2w"])
def test_every_file_reads_the_same_spelling(tmp_path: Path, text: str):
    expected = parse_duration(text)
    # a trigger
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "triggers.yaml").write_text(f"triggers:\n  cart:\n    on: [Product Added]\n    after: {text}\n")
    assert RuleBook.check(rules) == []
    assert TriggerSpec.from_mapping("cart", {"on": ["Product Added"], "after": text}).after == expected
    # an experiment
    (rules / "experiments.yaml").write_text(
        "experiments:\n  ab:\n    variants: {a: {}, b: {}}\n"
        f"    conversion: {{event: Order Completed, within: {text}}}\n"
    )
    experiments, problems = load_experiments(rules)
    assert problems == [] and experiments["ab"].conversion_window == expected
    # a recommendation filter and a retention window
    assert rules_from_mapping({"exclude_purchased": text}).exclude_purchased == expected
    assert RetentionPolicy.from_mapping({"page": text}).windows["page"] == expected


def test_forever_in_a_trigger_and_a_retention_policy(tmp_path: Path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "triggers.yaml").write_text("triggers:\n  browse:\n    on: [Product Viewed]\n    cooldown: forever\n")
    assert RuleBook.check(rules) == []
    assert TriggerSpec.from_mapping("browse", {"on": ["Product Viewed"], "cooldown": "forever"}).cooldown is None
    assert RetentionPolicy.from_mapping({"identify": "forever"}).describe()["identify"] == "forever"


def test_one_message_everywhere(tmp_path: Path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "experiments.yaml").write_text(
        "experiments:\n  ab:\n    variants: {a: {}, b: {}}\n    conversion: {event: Order Completed, within: a week}\n"
    )
    _, problems = load_experiments(rules)
    assert [p.message for p in problems] == [
        "experiment 'ab': conversion.within: 'a week' is not a duration: use a duration such as 4h or 1.5d "
        "(units: s, m, h, d, w)"
    ]
    with pytest.raises(PolicyError, match="'soon' is not a duration: use a duration such as 4h or 1.5d"):
        RetentionPolicy.from_mapping({"page": "soon"})
    with pytest.raises(ValueError, match="use a duration such as 4h or 1.5d"):
        rules_from_mapping({"exclude_purchased": "a while"})
