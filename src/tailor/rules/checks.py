"""Checks across rule files: duplicates, ties, shadowing, defaults, blocks."""

from __future__ import annotations

from pathlib import Path

from tailor.rules.expressions import paths
from tailor.rules.loader import Loaded

#: ``triggers.items`` would find the dict method, not a trigger named "items".
_RESERVED_TRIGGER_NAMES = frozenset(dir(dict)) | {"as_dict"}
BLOCK_SUFFIXES = (".mjml", ".html")


def check_loaded(loaded: Loaded, templates_dir: Path | None = None) -> None:
    """Append every cross-file problem to ``loaded.problems``."""
    _duplicates(loaded)
    _defaults(loaded)
    for slot_rules in loaded.slots.values():
        _ties_and_shadows(loaded, slot_rules)
    _trigger_names(loaded)
    _trigger_references(loaded)
    _blocks(loaded, templates_dir)


def _duplicates(loaded: Loaded) -> None:
    for (kind, name), origins in loaded.declared.items():
        for origin in origins[1:]:
            loaded.problem(origin, f"duplicate {kind} id {name!r} (first declared at {origins[0]})")


def _defaults(loaded: Loaded) -> None:
    for slot, slot_rules in loaded.slots.items():
        given = loaded.defaults.get(slot, [])
        if not given:
            loaded.problem(slot_rules.origin, f"slot {slot!r} has no default block: add `default: {slot}/...`")
        for block, origin in given[1:]:
            if block != given[0][0]:
                loaded.problem(origin, f"slot {slot!r} already has default {given[0][0]!r} (at {given[0][1]})")


def _ties_and_shadows(loaded: Loaded, slot_rules) -> None:
    seen: dict[int, str] = {}
    blocker = None
    for rule in slot_rules.rules:  # highest priority first
        if rule.priority in seen:
            loaded.problem(
                rule.origin,
                f"rule {rule.id!r} has the same priority ({rule.priority}) as "
                f"rule {seen[rule.priority]!r} in slot {slot_rules.slot!r}: "
                f"which one wins would be arbitrary",
            )
        seen.setdefault(rule.priority, rule.id)
        # Without consent a personal rule is skipped, so it only shadows personal rules.
        if blocker is not None and blocker.priority > rule.priority and (rule.personal or not blocker.personal):
            loaded.problem(
                rule.origin,
                f"rule {rule.id!r} can never match: rule {blocker.id!r} "
                f"(priority {blocker.priority}) always matches first",
            )
        if blocker is None and rule.condition.always:
            blocker = rule


def _trigger_names(loaded: Loaded) -> None:
    for name, origin in loaded.trigger_origins.items():
        if name in _RESERVED_TRIGGER_NAMES:
            loaded.problem(
                origin,
                f"trigger name {name!r} is reserved (templates could not reach it "
                f"as triggers.{name}); choose another name",
            )


def _trigger_references(loaded: Loaded) -> None:
    """``triggers.typo.active`` reads as inactive forever: warn about it."""
    conditions = [(r.id, r.condition, r.origin) for s in loaded.slots.values() for r in s.rules]
    conditions += [(a.id, a.condition, a.origin) for a in loaded.abort]
    conditions += [(s.name, s.condition, s.origin) for s in loaded.segments.values()]
    for owner, condition, origin in conditions:
        if condition.ast is None:
            continue
        for path, _ in paths(condition.ast):
            parts = path.split(".")
            if parts[0] == "triggers" and len(parts) > 1 and parts[1] not in loaded.triggers:
                loaded.problem(
                    origin, f"{owner!r} uses undeclared trigger {parts[1]!r} (it reads as inactive)", "warning"
                )


def _blocks(loaded: Loaded, templates_dir: Path | None) -> None:
    for slot, slot_rules in loaded.slots.items():
        used = [(block, origin) for block, origin in loaded.defaults.get(slot, [])]
        used += [(rule.block, rule.origin) for rule in slot_rules.rules]
        for block, origin in used:
            problem = block_problem(block, templates_dir)
            if problem:
                loaded.problem(origin, problem)


def block_problem(block: str, templates_dir: Path | None) -> str | None:
    """Why ``block`` cannot be used, or None."""
    if block.startswith("/") or ".." in block.split("/") or "\\" in block:
        return f"block {block!r} must be a path under templates/blocks/"
    if templates_dir is None:
        return None
    base = Path(templates_dir) / "blocks" / block
    if not any(base.with_name(base.name + suffix).is_file() for suffix in BLOCK_SUFFIXES):
        return f"unknown block {block!r}: no templates/blocks/{block}.mjml"
    return None


__all__ = ["check_loaded", "block_problem"]
