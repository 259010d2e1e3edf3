"""Behavioural triggers: cart and browse abandonment, and user-defined ones."""

from tailor.triggers.evaluate import Fired, evaluate_triggers
from tailor.triggers.spec import TriggerSpec
from tailor.triggers.state import TriggerState, TriggerStates
from tailor.vocabulary.durations import format_duration, parse_duration

#: The architecture notes call it ``evaluate``.
evaluate = evaluate_triggers

__all__ = [
    "Fired",
    "TriggerSpec",
    "TriggerState",
    "TriggerStates",
    "evaluate",
    "evaluate_triggers",
    "format_duration",
    "parse_duration",
]
