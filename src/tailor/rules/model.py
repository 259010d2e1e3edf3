"""What a loaded rule book holds: slot rules, abort rules, segments, decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tailor.rules.conditions import Condition


@dataclass(frozen=True)
class Origin:
    """Where something was declared (1-based line and column)."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass
class Rule:
    """One slot rule: when ``condition`` holds, ``block`` fills ``slot``."""

    id: str
    slot: str
    block: str
    condition: Condition
    priority: int = 0
    set: dict[str, Any] = field(default_factory=dict)
    personal: bool = False
    description: str = ""
    origin: Origin = Origin("")


@dataclass
class SlotRules:
    """Every rule for one slot, highest priority first, and the default block."""

    slot: str
    rules: list[Rule] = field(default_factory=list)
    default: str | None = None
    origin: Origin = Origin("")

    def blocks(self) -> list[str]:
        """Every block this slot may choose, default first, without repeats."""
        names = [self.default] if self.default else []
        for rule in self.rules:
            if rule.block not in names:
                names.append(rule.block)
        return names


@dataclass
class AbortRule:
    """When ``condition`` holds, the send is skipped with ``reason``."""

    id: str
    condition: Condition
    reason: str
    personal: bool = False
    origin: Origin = Origin("")


@dataclass
class SegmentRule:
    """A named segment: profiles for which ``condition`` holds."""

    name: str
    condition: Condition
    personal: bool = True
    description: str = ""
    origin: Origin = Origin("")


@dataclass
class Decision:
    """What the rules decided for one recipient and one send.

    ``trace`` is JSON-ready: an ``{"abort": ...}`` entry when abort rules exist,
    then one entry per slot with every rule considered in priority order.
    """

    blocks: dict[str, str] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    abort: str | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    rule_hits: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "blocks": dict(self.blocks),
            "variables": dict(self.variables),
            "abort": self.abort,
            "trace": self.trace,
            "rule_hits": list(self.rule_hits),
        }
