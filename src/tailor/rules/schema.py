"""The JSON Schema of rule files, and the small validator ``tailor check`` uses.

The schema is the published contract (``docs/rules.md`` embeds it; a test keeps the
two equal). The validator implements only the keywords the schema uses, and reports
each error at the YAML position of the offending key or value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tailor.rules.yamlmarks import Mark, MarkedDict, MarkedList

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
RULE_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$"
DURATION = {"type": "string", "pattern": r"^[0-9]+(s|m|h|d|w)$", "description": "a duration: 90s, 30m, 1h, 7d, 2w"}
CONDITION = {"type": ["string", "boolean"], "description": "a Jinja expression; missing or true = always"}
EVENT_NAMES = {"type": ["string", "array"], "items": {"type": "string"}}

RULE = {
    "type": "object",
    "required": ["id", "block"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": RULE_ID},
        "when": CONDITION,
        "priority": {"type": "integer", "description": "higher wins; default 0"},
        "block": {"type": "string", "description": "a block under templates/blocks/, e.g. hero/vip"},
        "set": {"type": "object", "description": "variables added to the template context"},
        "personal": {
            "type": "boolean",
            "description": "behavioural rule, skipped without consent; inferred when absent",
        },
        "description": {"type": "string"},
    },
}

ABORT = {
    "type": "object",
    "required": ["id", "when", "reason"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": RULE_ID},
        "when": CONDITION,
        "reason": {"type": "string"},
        "personal": {"type": "boolean"},
        "description": {"type": "string"},
    },
}

TRIGGER = {
    "type": "object",
    "required": ["on"],
    "additionalProperties": False,
    "properties": {
        "on": EVENT_NAMES,
        "unless": EVENT_NAMES,
        "min_count": {"type": "integer", "minimum": 1},
        "within": DURATION,
        "after": DURATION,
        "expires": DURATION,
        "cooldown": DURATION,
        "description": {"type": "string"},
    },
}

SEGMENT = {
    "type": "object",
    "oneOf": [{"required": ["when"]}, {"required": ["model", "features"]}],
    "additionalProperties": False,
    "properties": {
        "when": CONDITION,
        "model": {
            "type": "string",
            "enum": ["kmeans"],
            "description": "a clustering segment, trained by `tailor segments train`",
        },
        "features": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string"},
            "description": "recency, frequency, monetary or numeric computed features",
        },
        "k": {"type": "integer", "minimum": 2, "description": "number of clusters; default 4"},
        "labels": {
            "type": "array",
            "items": {"type": "string", "pattern": RULE_ID},
            "description": "segment names of the clusters, best first (by rank_by)",
        },
        "rank_by": {"type": "string", "description": "feature that orders the clusters; default monetary"},
        "personal": {"type": "boolean"},
        "description": {"type": "string"},
    },
}

RULE_FILE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "tailor rule file (rules/*.yaml)",
    "type": "object",
    "additionalProperties": False,
    "dependentRequired": {"rules": ["slot"], "default": ["slot"]},
    "properties": {
        "slot": {"type": "string", "pattern": IDENTIFIER},
        "description": {"type": "string"},
        "default": {"type": "string"},
        "rules": {"type": "array", "items": RULE},
        "triggers": {"type": "object", "propertyNames": {"pattern": IDENTIFIER}, "additionalProperties": TRIGGER},
        "segments": {"type": "object", "propertyNames": {"pattern": RULE_ID}, "additionalProperties": SEGMENT},
        "abort": {"type": "array", "items": ABORT},
        "recs": {"type": "object", "description": "recommendation business filters (docs/recommendations.md)"},
        "experiments": {"type": "object", "description": "A/B experiments (docs/experiments.md)"},
        "monitor": {"type": "object", "description": "drift alert thresholds (docs/monitoring.md)"},
    },
}

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def _is_type(value: Any, name: str) -> bool:
    # bool is an int subclass in Python; JSON Schema keeps them apart.
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[name])


def _type_name(value: Any) -> str:
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, name):
            return name
    return "null" if value is None else type(value).__name__


def validate(value: Any, schema: dict, where: Mark, path: str = "") -> Iterator[tuple[Mark, str]]:
    """Yield ``(mark, message)`` for each way ``value`` breaks ``schema``."""
    label = path or "the file"
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        if not any(_is_type(value, t) for t in allowed):
            yield where, f"{label}: expected {' or '.join(allowed)}, got {_type_name(value)}"
            return
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        yield where, f"{label}: {value!r} does not match {schema['pattern']}"
    if "minimum" in schema and _is_type(value, "number") and value < schema["minimum"]:
        yield where, f"{label}: {value} is below the minimum {schema['minimum']}"
    if "enum" in schema and value not in schema["enum"]:
        yield where, f"{label}: {value!r} is not one of {', '.join(map(repr, schema['enum']))}"
    if "minItems" in schema and isinstance(value, list) and len(value) < schema["minItems"]:
        yield where, f"{label}: needs at least {schema['minItems']} item(s)"
    if "oneOf" in schema and isinstance(value, dict):
        passing = sum(1 for option in schema["oneOf"] if not any(True for _ in validate(value, option, where, path)))
        if passing != 1:
            options = " or ".join("+".join(repr(k) for k in o.get("required", ())) for o in schema["oneOf"])
            yield where, f"{label}: give exactly one of {options}"
    if isinstance(value, dict):
        yield from _validate_object(value, schema, where, path)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            mark = value.item_mark(index) if isinstance(value, MarkedList) else where
            yield from validate(item, schema["items"], mark, f"{path}[{index}]")


def _validate_object(value: dict, schema: dict, where: Mark, path: str) -> Iterator[tuple[Mark, str]]:
    marked = value if isinstance(value, MarkedDict) else None
    label = path or "the file"
    for key, mark in marked.duplicates if marked else ():
        yield mark, f"{label}: duplicate key {key!r}"
    for key in schema.get("required", ()):
        if key not in value:
            yield where, f"{label}: missing required key {key!r}"
    for key, needs in schema.get("dependentRequired", {}).items():
        if key in value:
            for other in needs:
                if other not in value:
                    yield where, f"{label}: {key!r} needs {other!r}"
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    names = schema.get("propertyNames")
    for key, item in value.items():
        key_mark = marked.key_mark(key) if marked else where
        value_mark = marked.value_mark(key) if marked else where
        child = f"{path}.{key}" if path else str(key)
        if names and not (isinstance(key, str) and re.search(names["pattern"], key)):
            yield key_mark, f"{label}: name {key!r} does not match {names['pattern']}"
            continue
        if key in properties:
            yield from validate(item, properties[key], value_mark, child)
        elif extra is False:
            known = ", ".join(sorted(properties))
            yield key_mark, f"{label}: unknown key {key!r} (known: {known})"
        elif isinstance(extra, dict):
            yield from validate(item, extra, value_mark, child)
