"""Experiments as data: variants with weights, an optional holdout, a conversion to count."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from tailor.problems import Problem

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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
    conversion_event: str = "Order Completed"
    conversion_window: timedelta = timedelta(days=7)
    #: a variant's blocks replace a targeted rule's choice only when this is true
    override_rules: bool = False
    description: str = ""

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


def parse_duration(text: Any) -> timedelta | None:
    match = _DURATION.match(str(text).strip())
    if not match:
        return None
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def load_experiments(rules_dir: Path) -> tuple[dict[str, Experiment], list[Problem]]:
    """Every ``experiments:`` mapping in ``rules/*.yaml``, with problems located by line."""
    experiments: dict[str, Experiment] = {}
    problems: list[Problem] = []
    if not Path(rules_dir).is_dir():
        return experiments, problems
    for path in sorted(Path(rules_dir).glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        if not re.search(r"^experiments\s*:", text, re.M):
            continue
        try:
            node = yaml.compose(text)
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            continue  # the rules checker reports YAML syntax errors with their position
        lines = _key_lines(node)
        for name, spec in (data.get("experiments") or {}).items():
            where = lines.get(("experiments", str(name)), (1, 1))
            experiment, found = _parse(str(name), spec, str(path), where)
            problems += found
            if experiment is not None:
                if experiment.name in experiments:
                    problems.append(Problem(str(path), *where, f"experiment {name!r} is defined twice"))
                experiments[experiment.name] = experiment
    return experiments, problems


def _parse(name: str, spec: Any, path: str, where: tuple[int, int]) -> tuple[Experiment | None, list[Problem]]:
    problems: list[Problem] = []

    def bad(message: str) -> None:
        problems.append(Problem(path, *where, f"experiment {name!r}: {message}"))

    if not _NAME.match(name):
        bad("names use lowercase letters, digits, - and _")
    if not isinstance(spec, dict):
        bad("must be a mapping with `variants:`")
        return None, problems
    known = {"variants", "holdout", "templates", "conversion", "override_rules", "description"}
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
    conversion = spec.get("conversion") or {}
    event = conversion.get("event", "Order Completed") if isinstance(conversion, dict) else None
    window = parse_duration(conversion.get("within", "7d")) if isinstance(conversion, dict) else None
    if not isinstance(event, str) or window is None:
        bad("conversion is {event: <event name>, within: <duration like 7d>}")
        window = timedelta(days=7)
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
        str(event),
        window,
        bool(spec.get("override_rules", False)),
        str(spec.get("description", "")),
    ), problems


def _key_lines(node: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], tuple[int, int]]:
    found: dict[tuple[str, ...], tuple[int, int]] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            found[path] = (key.start_mark.line + 1, key.start_mark.column + 1)
            if len(path) < 2:
                found.update(_key_lines(value, path))
    return found
