"""Read rule files into model objects, collecting every problem on the way.

Loading never stops at the first mistake: a broken rule is reported and left out,
the rest of the file still loads, so ``tailor check`` shows everything at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tailor.delivery.frequency import FrequencyCap
from tailor.problems import Problem
from tailor.rules import schema
from tailor.rules.conditions import CONTEXT_NAMES, Condition, ConditionError, environment
from tailor.rules.model import AbortRule, Origin, Rule, SegmentRule, SlotRules
from tailor.triggers import TriggerSpec
from tailor.vocabulary.durations import NotADuration, parse_duration, parse_window
from tailor.yamlmarks import MarkedDict, read_marked


@dataclass
class Loaded:
    """Everything read from a set of rule files (before cross-file checks)."""

    slots: dict[str, SlotRules] = field(default_factory=dict)
    abort: list[AbortRule] = field(default_factory=list)
    segments: dict[str, SegmentRule] = field(default_factory=dict)
    #: clustering segments (``model: kmeans``), by name
    clusters: dict[str, Any] = field(default_factory=dict)
    triggers: dict[str, TriggerSpec] = field(default_factory=dict)
    trigger_origins: dict[str, Origin] = field(default_factory=dict)
    #: (kind, name) -> every place it was declared, for duplicate checks
    declared: dict[tuple[str, str], list[Origin]] = field(default_factory=dict)
    #: slot -> every (default, origin) given, for conflicting-default checks
    defaults: dict[str, list[tuple[str, Origin]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: declared profile traits (``profile:`` in ``rules/profile.yaml``); None when no file declares them
    profile: dict[str, ProfileField] | None = None
    #: declared catalog columns (``products:``)
    product_fields: list[str] = field(default_factory=list)
    #: files that could not be read at all: what they declare is unknown, so names are not checked
    unreadable: list[str] = field(default_factory=list)
    #: every compiled condition: (what owns it, the condition, where its ``when:`` is)
    conditions: list[tuple[str, Condition, Origin]] = field(default_factory=list)

    def declared_names(self, kind: str) -> set[str]:
        """Every ``kind`` ("trigger", "segment"...) declared, its body valid or not."""
        return {name for declared_kind, name in self.declared if declared_kind == kind}

    #: ``frequency_cap:`` (one per shop) and where it was declared
    frequency_cap: FrequencyCap | None = None
    frequency_cap_origin: Origin | None = None

    def problem(self, origin: Origin, message: str, severity: Literal["error", "warning"] = "error") -> None:
        self.problems.append(Problem(origin.path, origin.line, origin.col, message, severity))


@dataclass(frozen=True)
class ProfileField:
    """One declared profile trait: its type, and whether it can be null (printing it needs a default)."""

    name: str
    type: str = "any"
    nullable: bool = False
    description: str = ""
    origin: Origin = Origin("")


def rule_files(paths: Path | Iterable[Path]) -> list[Path]:
    """``*.yaml``/``*.yml`` under each directory (recursively), or the files given."""
    found: list[Path] = []
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        path = Path(path)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            found.append(path)
    return found


@dataclass(frozen=True)
class RuleFile:
    """One rule file as read: its marked document (None when empty or unreadable) and why not."""

    path: str
    data: Any
    problems: tuple[Problem, ...] = ()


def read_rule_files(paths: Iterable[Path]) -> list[RuleFile]:
    """Each file parsed once by the one YAML loader; slots, experiments and recs filters read the result."""
    files = []
    for path in paths:
        data, problems = read_marked(Path(path))
        files.append(RuleFile(str(path), data, tuple(problems)))
    return files


def load_files(paths: Iterable[Path]) -> Loaded:
    return load_documents(read_rule_files(paths))


def load_documents(files: Iterable[RuleFile]) -> Loaded:
    """Slots, abort rules, segments and triggers of files already read."""
    loaded = Loaded()
    for file in files:
        loaded.problems.extend(file.problems)
        if file.problems and file.data is None:
            loaded.unreadable.append(file.path)  # what it declares is unknown: no "undeclared" cascade
        elif file.data is not None:
            _load_document(file.path, file.data, loaded)
    return loaded


def _load_document(name: str, data: Any, loaded: Loaded) -> None:
    mark = getattr(data, "mark", (1, 1))
    for (line, col), message in schema.validate(data, schema.RULE_FILE, mark):
        loaded.problem(Origin(name, line, col), message)
    if not isinstance(data, MarkedDict):  # load_marked builds every mapping as a MarkedDict
        return
    _read_slot(name, data, loaded)
    _read_abort(name, data, loaded)
    _read_segments(name, data, loaded)
    _read_triggers(name, data, loaded)
    _read_profile(name, data, loaded)
    _read_frequency_cap(name, data, loaded)


def _valid(item: Any, item_schema: dict) -> bool:
    return not any(True for _ in schema.validate(item, item_schema, (0, 0)))


def _origin(name: str, container: Any, key: Any = None) -> Origin:
    if isinstance(container, MarkedDict) and key is not None:
        return Origin(name, *container.value_mark(key))
    return Origin(name, *getattr(container, "mark", (0, 0)))


def condition(name: str, item: MarkedDict, loaded: Loaded, what: str) -> Condition | None:
    """Compile ``item['when']``; report syntax errors, escapes and unknown names."""
    origin = _origin(name, item, "when") if "when" in item else _origin(name, item)
    try:
        compiled = Condition(item.get("when"))
    except ConditionError as exc:
        loaded.problem(Origin(name, origin.line + exc.lineno - 1, origin.col), f"{what}: invalid condition: {exc}")
        return None
    unknown = compiled.names - set(CONTEXT_NAMES) - set(environment().globals)
    for unknown_name in sorted(unknown):
        loaded.problem(
            origin, f"{what}: no context provides {unknown_name!r} (conditions can use {', '.join(CONTEXT_NAMES)})"
        )
    if unknown:
        return None
    loaded.conditions.append((what, compiled, origin))
    return compiled


def _declare(loaded: Loaded, kind: str, key: str, origin: Origin) -> None:
    loaded.declared.setdefault((kind, key), []).append(origin)


def _read_slot(name: str, data: MarkedDict, loaded: Loaded) -> None:
    slot = data.get("slot")
    if not isinstance(slot, str):
        return
    slot_rules = loaded.slots.setdefault(slot, SlotRules(slot, origin=_origin(name, data, "slot")))
    if isinstance(data.get("default"), str):
        loaded.defaults.setdefault(slot, []).append((data["default"], _origin(name, data, "default")))
        slot_rules.default = slot_rules.default or data["default"]
    for index, item in enumerate(data.get("rules") or []):
        if not isinstance(item, MarkedDict) or not _valid(item, schema.RULE):
            continue  # already reported by the schema check
        origin = Origin(name, *data["rules"].item_mark(index))
        _declare(loaded, "rule", item["id"], _origin(name, item, "id"))
        compiled = condition(name, item, loaded, f"rule {item['id']!r}")
        if compiled is None:
            continue
        slot_rules.rules.append(
            Rule(
                id=item["id"],
                slot=slot,
                block=item["block"],
                condition=compiled,
                priority=item.get("priority", 0),
                set=dict(item.get("set") or {}),
                personal=item.get("personal", compiled.behavioural),
                description=item.get("description", ""),
                origin=origin,
            )
        )
    # Highest priority first; file order breaks ties (ties are reported anyway).
    slot_rules.rules.sort(key=lambda rule: -rule.priority)


def _read_abort(name: str, data: MarkedDict, loaded: Loaded) -> None:
    for index, item in enumerate(data.get("abort") or [] if isinstance(data.get("abort"), list) else []):
        if not isinstance(item, MarkedDict) or not _valid(item, schema.ABORT):
            continue
        _declare(loaded, "rule", item["id"], _origin(name, item, "id"))
        compiled = condition(name, item, loaded, f"abort rule {item['id']!r}")
        if compiled is not None:
            loaded.abort.append(
                AbortRule(
                    item["id"],
                    compiled,
                    item["reason"],
                    item.get("personal", compiled.behavioural),
                    Origin(name, *data["abort"].item_mark(index)),
                )
            )


def _read_segments(name: str, data: MarkedDict, loaded: Loaded) -> None:
    segments = data.get("segments")
    if not isinstance(segments, MarkedDict):
        return
    for segment, item in segments.items():
        origin = Origin(name, *segments.key_mark(segment))
        # declared even when its body is wrong (reported by the schema check): no cascade of "undeclared"
        _declare(loaded, "segment", segment, origin)
        if not isinstance(item, MarkedDict) or not _valid(item, schema.SEGMENT):
            continue
        if "model" in item:
            _read_cluster(segment, item, origin, loaded)
            continue
        compiled = condition(name, item, loaded, f"segment {segment!r}")
        if compiled is not None:
            # A segment is behavioural data by nature, unless declared otherwise.
            loaded.segments[segment] = SegmentRule(
                segment, compiled, item.get("personal", True), item.get("description", ""), origin
            )


def _read_cluster(segment: str, item: MarkedDict, origin: Origin, loaded: Loaded) -> None:
    from tailor.rules.clusters import ClusterSegment

    cluster = ClusterSegment(
        segment,
        list(item["features"]),
        k=item.get("k", 4),
        labels=list(item.get("labels") or []),
        rank_by=item.get("rank_by", "monetary"),
        personal=item.get("personal", True),
        description=item.get("description", ""),
        origin=origin,
    )
    problems = cluster.problems()
    for message in problems:
        loaded.problem(origin, message)
    if not problems:
        loaded.clusters[segment] = cluster
        for label in cluster.labels:
            _declare(loaded, "segment", label, origin)


def _read_triggers(name: str, data: MarkedDict, loaded: Loaded) -> None:
    triggers = data.get("triggers")
    if not isinstance(triggers, MarkedDict):
        return
    for trigger, item in triggers.items():
        origin = Origin(name, *triggers.key_mark(trigger))
        _declare(loaded, "trigger", trigger, origin)  # even when its body is wrong: no cascade
        if not isinstance(item, MarkedDict) or not _valid(item, schema.TRIGGER):
            continue
        if not _durations_fit(name, item, ("within", "after", "expires", "cooldown"), loaded, f"triggers.{trigger}"):
            continue
        loaded.triggers[trigger] = TriggerSpec.from_mapping(trigger, item)
        loaded.trigger_origins[trigger] = origin


def _durations_fit(name: str, item: MarkedDict, keys: tuple[str, ...], loaded: Loaded, what: str) -> bool:
    """Report each duration the schema's pattern lets through but that is too long, at its value; True if none."""
    fit = True
    for key in keys:
        if item.get(key) is None:
            continue
        try:
            parse_window(item[key])
        except NotADuration as exc:
            loaded.problem(_origin(name, item, key), f"{what}.{key}: {exc}")
            fit = False
    return fit


def _read_profile(name: str, data: MarkedDict, loaded: Loaded) -> None:
    declared = data.get("profile")
    if isinstance(declared, MarkedDict):
        fields = loaded.profile if loaded.profile is not None else {}
        for trait, spec in declared.items():
            origin = Origin(name, *declared.key_mark(trait))
            if not isinstance(spec, (str, MarkedDict)):
                continue  # reported by the schema check
            spec_map = {"type": spec} if isinstance(spec, str) else dict(spec)
            kind = spec_map.get("type", "any")
            if kind not in schema.FIELD_TYPES:
                loaded.problem(
                    origin, f"profile field {trait!r}: type {kind!r} is not one of {', '.join(schema.FIELD_TYPES)}"
                )
                continue
            _declare(loaded, "profile field", str(trait), origin)
            nullable, description = bool(spec_map.get("nullable", False)), str(spec_map.get("description", ""))
            fields[str(trait)] = ProfileField(str(trait), str(kind), nullable, description, origin)
        loaded.profile = fields
    products = data.get("products")
    if isinstance(products, list):
        loaded.product_fields += [str(p) for p in products if isinstance(p, str)]


def _read_frequency_cap(name: str, data: MarkedDict, loaded: Loaded) -> None:
    item = data.get("frequency_cap")
    if not isinstance(item, MarkedDict) or not _valid(item, schema.FREQUENCY_CAP):
        return  # reported by the schema check
    if not _durations_fit(name, item, ("per",), loaded, "frequency_cap"):
        return
    origin = _origin(name, data, "frequency_cap")
    if loaded.frequency_cap_origin is not None:
        first = loaded.frequency_cap_origin
        loaded.problem(origin, f"frequency_cap is declared twice (first at {first.path}:{first.line}:{first.col})")
        return
    loaded.frequency_cap = FrequencyCap(item["max"], parse_duration(item["per"]), item.get("description", ""))
    loaded.frequency_cap_origin = origin
