"""YAML rules: slots, segments, abort rules, trigger declarations; the decision trace."""

from tailor.rules.book import RuleBook, condition_context
from tailor.rules.conditions import CONTEXT_NAMES, Condition, ConditionError, Outcome
from tailor.rules.model import AbortRule, Decision, Rule, SegmentRule, SlotRules
from tailor.rules.schema import RULE_FILE as SCHEMA

__all__ = [
    "AbortRule",
    "CONTEXT_NAMES",
    "Condition",
    "ConditionError",
    "Decision",
    "Outcome",
    "Rule",
    "RuleBook",
    "SCHEMA",
    "SegmentRule",
    "SlotRules",
    "condition_context",
]
