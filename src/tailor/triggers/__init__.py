"""Behavioural triggers: cart and browse abandonment, and user-defined ones."""

from tailor.triggers.durations import format_duration, parse_duration
from tailor.triggers.evaluate import Fired, evaluate_triggers
from tailor.triggers.spec import TriggerSpec
from tailor.triggers.state import TriggerState, TriggerStates

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
