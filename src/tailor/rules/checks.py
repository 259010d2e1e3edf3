"""Checks across rule files: duplicates, ties, shadowing, defaults, blocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jinja2 import nodes

from tailor.features.names import FEATURE_NAMES
from tailor.problems import did_you_mean
from tailor.profile import template_profile
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
    if not loaded.unreadable:  # an unreadable file may declare them: no cascade of "undeclared"
        _trigger_references(loaded)
        _segment_references(loaded)
        _profile_fields(loaded)
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
    """``triggers.typo.active`` reads as inactive forever: the rule could never match as meant."""
    declared = loaded.declared_names("trigger")
    for owner, condition, origin in loaded.conditions:
        for path, _ in paths(condition.ast) if condition.ast is not None else []:
            parts = path.split(".")
            if parts[0] == "triggers" and len(parts) > 1 and parts[1] not in declared:
                loaded.problem(
                    origin,
                    f"{owner} uses undeclared trigger {parts[1]!r} (it would always read as inactive)"
                    + did_you_mean(parts[1], declared),
                )


def declared_segments(loaded: Loaded) -> set[str]:
    """Segment names conditions and templates may test: condition segments and cluster labels."""
    return loaded.declared_names("segment")


def segment_tests(ast: nodes.Node) -> Iterator[tuple[str, nodes.Node]]:
    """``'vip' in segments`` / ``'vip' not in segments``: the segment names an expression tests."""
    for compare in [ast, *ast.find_all(nodes.Compare)]:  # find_all skips the node itself
        if not isinstance(compare, nodes.Compare) or len(compare.ops) != 1:
            continue
        operand = compare.ops[0]
        if (
            operand.op in ("in", "notin")
            and isinstance(compare.expr, nodes.Const)
            and isinstance(compare.expr.value, str)
            and isinstance(operand.expr, nodes.Name)
            and operand.expr.name == "segments"
        ):
            yield compare.expr.value, compare


def _segment_references(loaded: Loaded) -> None:
    """``'knitwear_fan' in segments`` with no such segment never matches: an error, not a silent no-op."""
    known = declared_segments(loaded)
    for owner, condition, origin in loaded.conditions:
        for segment, _ in segment_tests(condition.ast) if condition.ast is not None else []:
            if segment not in known:
                loaded.problem(
                    origin,
                    f"{owner} tests undeclared segment {segment!r} (it would never match); declare it under "
                    "`segments:`" + did_you_mean(segment, known),
                )


def profile_names(loaded: Loaded) -> set[str] | None:
    """Every ``profile.<name>`` a profile can have, or None when no ``profile:`` schema is declared."""
    if loaded.profile is None:
        return None
    return set(loaded.profile) | set(FEATURE_NAMES) | set(template_profile({"email": ""}, {}))


def _profile_fields(loaded: Loaded) -> None:
    """A condition on a field no profile can have never matches (or always does, with ``not``)."""
    known = profile_names(loaded)
    if known is None:
        return
    for owner, condition, origin in loaded.conditions:
        for path, _ in paths(condition.ast) if condition.ast is not None else []:
            parts = path.split(".")
            if parts[0] == "profile" and len(parts) > 1 and parts[1] not in known:
                loaded.problem(
                    origin,
                    f"{owner} reads profile.{parts[1]}, which no profile has (not in the profile schema "
                    "nor a computed feature)" + did_you_mean(parts[1], known),
                )


def _blocks(loaded: Loaded, templates_dir: Path | None) -> None:
    for slot, slot_rules in loaded.slots.items():
        used = [(block, origin) for block, origin in loaded.defaults.get(slot, [])]
        used += [(rule.block, rule.origin) for rule in slot_rules.rules]
        home = _home_folder(slot, slot_rules.default, templates_dir)
        for block, origin in used:
            problem = block_problem(block, templates_dir) or _folder_problem(slot, home, block)
            if problem:
                loaded.problem(origin, problem)


def _home_folder(slot: str, default: str | None, templates_dir: Path | None) -> str | None:
    """Where a slot's blocks live: ``blocks/<slot>/`` when it exists, else its default's folder."""
    if templates_dir is not None and (Path(templates_dir) / "blocks" / slot).is_dir():
        return slot
    return default.split("/", 1)[0] if default and "/" in default else None


def _folder_problem(slot: str, home: str | None, block: str) -> str | None:
    """A ``footer_offer/…`` block chosen for the hero would show a footer banner as the hero."""
    folder = block.split("/", 1)[0]
    if home is None or "/" not in block or folder == home:
        return None
    return (
        f"block {block!r} is from templates/blocks/{folder}/, another slot's folder: "
        f"slot {slot!r} takes blocks from templates/blocks/{home}/"
    )


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
