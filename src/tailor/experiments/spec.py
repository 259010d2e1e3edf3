"""Experiments as data: variants with weights, an optional holdout, a conversion to count."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from tailor.experiments.stats import Plan, make_plan
from tailor.problems import Problem
from tailor.vocabulary.durations import NotADuration, parse_duration
from tailor.yamlmarks import MarkedDict

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: the ESP click event (tailor.esp.events.SEGMENT_NAMES["click"]), the default secondary metric
CLICK_EVENT = "Email Link Clicked"


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    #: slot -> block this variant shows (empty: the rules' choice, i.e. the control)
    blocks: dict[str, str] = field(default_factory=dict)
    #: variables added to the template context, like a rule's ``set:``
    set: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """One A/B(/n) test; see docs/experiments.md."""

    name: str
    variants: tuple[Variant, ...]
    holdout: float = 0.0
    templates: tuple[str, ...] = ()
    #: a recipient converts with any of these events within the window after their first exposure
    conversion_events: tuple[str, ...] = ("Order Completed",)
    conversion_window: timedelta = timedelta(days=7)
    #: a variant's blocks replace a targeted rule's choice only when this is true
    override_rules: bool = False
    description: str = ""
    #: secondary metrics, attributed like the conversion (default: ESP clicks)
    secondary_events: tuple[str, ...] = (CLICK_EVENT,)
    #: the sample size the experiment is read at (none: the report says the p-value is not a decision)
    plan: Plan | None = None

    @property
    def conversion_event(self) -> str:
        return " or ".join(self.conversion_events)

    @property
    def control(self) -> Variant:
        return self.variants[0]

    @property
    def slots(self) -> set[str]:
        return {slot for v in self.variants for slot in v.blocks}

    def applies_to(self, template: str, slots: Iterable[str]) -> bool:
        if self.templates:
            return template in self.templates
        return bool(self.slots & set(slots)) or not self.slots

    def expected_shares(self) -> dict[str, float]:
        """Share of recipients expected in each arm (holdout included)."""
        total = sum(v.weight for v in self.variants)
        shares = {v.name: (1 - self.holdout) * v.weight / total for v in self.variants}
        if self.holdout:
            shares["holdout"] = self.holdout
        return shares


def load_experiments(rules_dir: Path) -> tuple[dict[str, Experiment], list[Problem]]:
    """Every ``experiments:`` mapping in the rule files of ``rules_dir``, with problems located by line."""
    from tailor.rules.loader import read_rule_files, rule_files

    return experiments_from(read_rule_files(rule_files(rules_dir)))


def experiments_from(files: Iterable[Any]) -> tuple[dict[str, Experiment], list[Problem]]:
    """The experiments of rule files already read (``.path`` and the marked ``.data`` of each).

    A file that could not be read is skipped: the rules loader reports it with its position.
    """
    experiments: dict[str, Experiment] = {}
    problems: list[Problem] = []
    for file in files:
        data = file.data
        if not isinstance(data, MarkedDict) or not isinstance(data.get("experiments"), MarkedDict):
            continue  # no experiments here (a wrong type is the rules schema's report)
        declared: MarkedDict = data["experiments"]
        for name, spec in declared.items():
            where = declared.key_mark(name)
            experiment, found = _parse(str(name), spec, file.path, where)
            problems += found
            if experiment is not None:
                if experiment.name in experiments:
                    problems.append(Problem(file.path, *where, f"experiment {name!r} is defined twice"))
                experiments[experiment.name] = experiment
    return experiments, problems


def _parse_conversion(conversion: Any, bad: Callable[[str], None]) -> tuple[list[str], timedelta]:
    """``conversion: {event: <name or names>, within: <duration>}``, with its defaults."""
    if not isinstance(conversion, dict):
        bad("conversion is {event: <event name or list of names>, within: <duration such as 7d>}")
        return ["Order Completed"], timedelta(days=7)
    events = conversion.get("event", "Order Completed")
    events = [events] if isinstance(events, str) else events
    if not _event_names(events):
        bad("conversion.event is an event name or a list of names")
        events = ["Order Completed"]
    try:
        window = parse_duration(conversion.get("within", "7d"))
    except NotADuration as exc:
        bad(f"conversion.within: {exc}")
        window = timedelta(days=7)
    return [str(e) for e in events], window


def _parse(name: str, spec: Any, path: str, where: tuple[int, int]) -> tuple[Experiment | None, list[Problem]]:
    problems: list[Problem] = []

    def bad(message: str) -> None:
        problems.append(Problem(path, *where, f"experiment {name!r}: {message}"))

    if not _NAME.match(name):
        bad("names use lowercase letters, digits, - and _")
    if not isinstance(spec, dict):
        bad("must be a mapping with `variants:`")
        return None, problems
    known = {"variants", "holdout", "templates", "conversion", "override_rules", "description", "secondary", "plan"}
    for key in set(spec) - known:
        bad(f"unknown key {key!r} (known: {', '.join(sorted(known))})")
    variants: list[Variant] = []
    raw = spec.get("variants")
    if not isinstance(raw, dict) or len(raw) < 2:
        bad("`variants:` needs at least two named variants (the first is the control)")
        raw = {}
    for vname, vspec in raw.items():
        vspec = vspec or {}
        if not isinstance(vspec, dict):
            bad(f"variant {vname!r} must be a mapping")
            continue
        weight = vspec.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            bad(f"variant {vname!r}: weight must be a positive number")
            continue
        blocks = vspec.get("blocks") or {}
        sets = vspec.get("set") or {}
        if not isinstance(blocks, dict) or not isinstance(sets, dict):
            bad(f"variant {vname!r}: `blocks` and `set` are mappings")
            continue
        variants.append(Variant(str(vname), float(weight), {str(k): str(v) for k, v in blocks.items()}, dict(sets)))
    holdout = spec.get("holdout", 0)
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        bad("holdout is a fraction in [0, 1)")
        holdout = 0
    events, window = _parse_conversion(spec.get("conversion") or {}, bad)
    secondary = spec.get("secondary", [CLICK_EVENT])
    secondary = [secondary] if isinstance(secondary, str) else secondary
    if secondary != [] and not _event_names(secondary):
        bad("secondary is a list of event names (default: [Email Link Clicked])")
        secondary = []
    plan = _parse_plan(spec["plan"], bad) if "plan" in spec else None
    templates = spec.get("templates") or []
    if isinstance(templates, str):
        templates = [templates]
    if problems:
        return None, problems
    return Experiment(
        name,
        tuple(variants),
        float(holdout),
        tuple(templates),
        tuple(str(e) for e in events or ()),
        window,
        bool(spec.get("override_rules", False)),
        str(spec.get("description", "")),
        tuple(str(e) for e in secondary or ()),
        plan,
    ), problems


def _parse_plan(raw: Any, bad: Any) -> Plan | None:
    """``plan: {baseline, mde, power?, alpha?}`` → a Plan, or None after reporting what is wrong."""
    if not isinstance(raw, dict) or not {"baseline", "mde"} <= set(raw):
        bad("plan is {baseline: 0.03, mde: 10% (relative) or 0.3pp (absolute), power: 0.8, alpha: 0.05}")
        return None
    if unknown := set(raw) - {"baseline", "mde", "power", "alpha"}:
        bad(f"plan: unknown key(s) {', '.join(sorted(map(str, unknown)))} (known: baseline, mde, power, alpha)")
        return None
    try:
        return make_plan(raw["baseline"], raw["mde"], raw.get("power", 0.8), raw.get("alpha", 0.05))
    except ValueError as exc:
        bad(f"plan: {exc}")
        return None


def _event_names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(e, str) and e.strip() for e in value)
