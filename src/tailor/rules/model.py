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
class SlotDecision:
    """What the rules chose for one slot, and why: the typed form of one slot's trace entry.

    Code that needs the winner reads ``rule_id``; :meth:`as_dict` is the one place the JSON
    trace entry (``why`` text included) is written.
    """

    slot: str
    block: str | None
    #: the winning rule's id; None when the slot's default (or nothing) filled it
    rule_id: str | None = None
    #: every rule considered, in priority order, with why it matched or not (JSON-ready)
    considered: list[dict[str, Any]] = field(default_factory=list)
    #: the winning rule's ``set:`` variables (JSON-ready)
    set: dict[str, Any] = field(default_factory=dict)
    #: False without personalization consent (behavioural rules were skipped)
    personalized: bool = True
    #: False when no rule file mentions the slot (the template's own default applies)
    has_rules: bool = True

    @property
    def reason(self) -> str:
        if not self.has_rules:
            return "no rules for this slot"
        return f"rule {self.rule_id}" if self.rule_id is not None else "default"

    def as_dict(self) -> dict[str, Any]:
        """The trace entry the API, the CLI and the studio show (its shape is public)."""
        if not self.has_rules:
            return {"slot": self.slot, "block": None, "why": self.reason, "rules": self.considered}
        entry: dict[str, Any] = {"slot": self.slot, "rules": self.considered, "block": self.block, "why": self.reason}
        if self.set:
            entry["set"] = self.set
        if not self.personalized:
            entry["consent"] = False
        return entry


@dataclass
class Decision:
    """What the rules decided for one recipient and one send.

    ``slots`` holds the typed per-slot decisions; ``trace`` is their JSON-ready form:
    an ``{"abort": ...}`` entry when abort rules exist, then one entry per slot with every
    rule considered in priority order.
    """

    blocks: dict[str, str] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    abort: str | None = None
    #: the id of the abort rule that matched
    abort_rule: str | None = None
    slots: list[SlotDecision] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rule_hits(self) -> list[str]:
        """Ids of the matching abort rule and of the winning slot rules, in evaluation order."""
        winners = [d.rule_id for d in self.slots if d.rule_id is not None]
        return [self.abort_rule, *winners] if self.abort_rule is not None else winners

    def as_dict(self) -> dict[str, Any]:
        return {
            "blocks": dict(self.blocks),
            "variables": dict(self.variables),
            "abort": self.abort,
            "trace": self.trace,
            "rule_hits": self.rule_hits,
        }
