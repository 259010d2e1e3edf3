"""RuleBook: every rule file of a shop, loaded once, deciding per recipient."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tailor.config import Settings
from tailor.delivery.frequency import FrequencyCap
from tailor.problems import Problem, ProblemError
from tailor.rules.checks import check_loaded
from tailor.rules.conditions import Condition, Scope
from tailor.rules.jsonable import jsonable
from tailor.rules.loader import Loaded, load_files, rule_files
from tailor.rules.model import AbortRule, Decision, Origin, Rule, SegmentRule, SlotDecision, SlotRules
from tailor.triggers import TriggerSpec, TriggerState, TriggerStates

NO_CONSENT = "no consent"
OUTRANKED = "a higher-priority rule matched"


class RuleBook:
    """Slot rules, abort rules, segments and trigger declarations of ``rules/``."""

    def __init__(self, loaded: Loaded | None = None, *, artifacts: Path | None = None):
        loaded = loaded or Loaded()
        self.slots: dict[str, SlotRules] = loaded.slots
        self.abort_rules: list[AbortRule] = loaded.abort
        self.segments: dict[str, SegmentRule] = loaded.segments
        self.triggers: dict[str, TriggerSpec] = loaded.triggers
        #: where each trigger is declared (the studio lists the files every template uses)
        self.trigger_origins: dict[str, Origin] = loaded.trigger_origins
        #: clustering segments (``model: kmeans``); models are read from ``artifacts``
        self.clusters: dict[str, Any] = loaded.clusters
        #: where trained segment models are (the caller's settings; the default folder otherwise)
        self.artifacts: Path = Path(artifacts) if artifacts is not None else Settings().artifacts
        #: at most N marketing emails per person per period (``frequency_cap:``), or None
        self.frequency_cap: FrequencyCap | None = loaded.frequency_cap

    # -- loading ---------------------------------------------------------------

    @classmethod
    def load(
        cls, rules_dir: Path | Iterable[Path], templates_dir: Path | None = None, *, artifacts: Path | None = None
    ) -> RuleBook:
        """Load every rule file; raises :class:`ProblemError` if any has an error."""
        loaded = cls._read(rules_dir, templates_dir)
        errors = [p for p in loaded.problems if p.severity == "error"]
        if errors:
            raise ProblemError(errors)
        return cls(loaded, artifacts=artifacts)

    @classmethod
    def check(cls, rules_dir: Path | Iterable[Path], templates_dir: Path | None = None) -> list[Problem]:
        """Every problem (errors and warnings) in the rule files; never raises for bad files."""
        return sorted(cls._read(rules_dir, templates_dir).problems)

    @staticmethod
    def _read(rules_dir: Path | Iterable[Path], templates_dir: Path | None) -> Loaded:
        loaded = load_files(rule_files(rules_dir))
        check_loaded(loaded, templates_dir)
        return loaded

    # -- questions the renderer asks ---------------------------------------------

    def blocks_for(self, slot: str) -> list[str]:
        """Every block ``slot`` may choose, default first."""
        slot_rules = self.slots.get(slot)
        return slot_rules.blocks() if slot_rules else []

    def default_for(self, slot: str) -> str | None:
        slot_rules = self.slots.get(slot)
        return slot_rules.default if slot_rules else None

    def segments_for(self, context: Mapping[str, Any], *, personalized: bool = True) -> list[str]:
        """Names of the segments the recipient is in: cluster labels, then condition segments.

        A clustering segment contributes the label of the profile's cluster (when its
        model was trained by ``tailor segments train``; otherwise nothing).

        A segment may use earlier segments: ``segments`` grows while they are evaluated.
        """
        ctx = condition_context(context)
        members: list[str] = list(ctx["segments"])
        scope = Scope(ctx)
        # cluster labels first, so condition segments can use them
        for cluster in self.clusters.values():
            if cluster.personal and not personalized:
                continue
            label = cluster.assign(ctx["profile"], self.artifacts)
            if label is not None and label not in members:
                members.append(label)
        for name, segment in self.segments.items():
            if segment.personal and not personalized:
                continue
            scope.set("segments", members)
            if name not in members and segment.condition.evaluate(scope, explain=False).matched:
                members.append(name)
        return members

    def decide(
        self, slots: Iterable[str], context: Mapping[str, Any], *, personalized: bool = True, explain: bool = True
    ) -> Decision:
        """Choose a block for each slot; evaluate abort rules; record why.

        Without ``personalized`` (no consent), behavioural rules are skipped. Every rule
        considered and the winner are always recorded; ``explain=False`` leaves out why a
        rule did not match (the failing part and the values it read), which costs several
        times the decision itself.
        """
        ctx = Scope(condition_context(context))
        decision = Decision()
        if self.abort_rules:
            decision.trace.append(self._abort(ctx, personalized, decision, explain))
        for slot in slots:
            slot_decision = self._decide_slot(slot, ctx, personalized, decision, explain)
            decision.slots.append(slot_decision)
            decision.trace.append(slot_decision.as_dict())
        return decision

    def _abort(self, ctx: Scope, personalized: bool, decision: Decision, explain: bool) -> dict[str, Any]:
        considered: list[dict[str, Any]] = []
        for rule in self.abort_rules:
            if decision.abort is not None:
                considered.append({"id": rule.id, "matched": None, "skipped": "an earlier abort rule matched"})
                continue
            if rule.personal and not personalized:
                considered.append({"id": rule.id, "matched": False, "skipped": NO_CONSENT})
                continue
            entry = _evaluate(rule.id, rule.condition, ctx, explain)
            considered.append(entry)
            if entry["matched"]:
                decision.abort = rule.reason
                decision.abort_rule = rule.id
        return {"abort": decision.abort, "rules": considered}

    def _decide_slot(
        self, slot: str, ctx: Scope, personalized: bool, decision: Decision, explain: bool
    ) -> SlotDecision:
        slot_rules = self.slots.get(slot)
        if slot_rules is None:
            return SlotDecision(slot, None, has_rules=False)
        winner: Rule | None = None
        considered: list[dict[str, Any]] = []
        for rule in slot_rules.rules:
            if winner is not None:
                considered.append({"id": rule.id, "priority": rule.priority, "matched": None, "skipped": OUTRANKED})
            elif rule.personal and not personalized:
                considered.append({"id": rule.id, "priority": rule.priority, "matched": False, "skipped": NO_CONSENT})
            else:
                evaluated = _evaluate(rule.id, rule.condition, ctx, explain)
                evaluated["priority"] = rule.priority
                considered.append(evaluated)
                if evaluated["matched"]:
                    winner = rule
        if winner is None:
            if slot_rules.default:
                decision.blocks[slot] = slot_rules.default
            return SlotDecision(slot, slot_rules.default, considered=considered, personalized=personalized)
        decision.blocks[slot] = winner.block
        decision.variables.update(winner.set)
        return SlotDecision(
            slot,
            winner.block,
            rule_id=winner.id,
            considered=considered,
            set=jsonable(winner.set) if winner.set else {},
            personalized=personalized,
        )


def _evaluate(rule_id: str, condition: Condition, ctx: Scope, explain: bool) -> dict[str, Any]:
    outcome = condition.evaluate(ctx, explain=explain)
    return {"id": rule_id, "when": condition.text, "matched": outcome.matched, **outcome.detail}


def condition_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The names conditions see, with safe empty values for the ones not given."""
    ctx = dict(context)
    ctx["profile"] = context.get("profile") or {}
    ctx["segments"] = list(context.get("segments") or [])
    ctx["recs"] = context.get("recs") if context.get("recs") is not None else []
    ctx["context"] = context.get("context") or {}
    ctx.setdefault("now", None)
    triggers = context.get("triggers")
    if not isinstance(triggers, TriggerStates):
        # Undeclared triggers must read as inactive, not as missing data.
        states = TriggerStates()
        for name, state in (triggers or {}).items():
            states[name] = state if isinstance(state, TriggerState) else _state_from_dict(name, state)
        triggers = states
    ctx["triggers"] = triggers
    return ctx


def _state_from_dict(name: str, data: Any) -> TriggerState:
    if isinstance(data, Mapping):
        return TriggerState(
            name=name,
            active=bool(data.get("active")),
            items=list(data.get("items") or []),
            reason=str(data.get("reason", "")),
            key=data.get("key"),
        )
    return TriggerState(name=name, active=bool(data))
