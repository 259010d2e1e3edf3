"""The JSON Schema of rule files, checked with ``jsonschema`` at the YAML positions.

The schema is the published contract (``docs/rules.md`` embeds it; a test keeps the
two equal). ``jsonschema`` finds the errors; this module only says where each one is
(the YAML position of the offending key or value, from the marked loader) and words
it for the marketer who wrote the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from tailor.vocabulary.durations import ADVICE as DURATION_ADVICE
from tailor.vocabulary.durations import PATTERN as DURATION_PATTERN
from tailor.yamlmarks import Mark, MarkedDict, MarkedList

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
RULE_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$"
DURATION = {"type": "string", "pattern": DURATION_PATTERN, "description": "a duration: 90s, 30m, 4h, 1.5d, 2w"}
WINDOW = {
    "type": "string",
    "anyOf": [{"pattern": DURATION_PATTERN}, {"const": "forever"}],
    "description": "a duration (90s, 30m, 4h, 1.5d, 2w) or forever",
}
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
        "within": WINDOW,
        "after": DURATION,
        "expires": WINDOW,
        "cooldown": WINDOW,
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

#: the value types a profile field may declare (``rules/profile.yaml``)
FIELD_TYPES = ("string", "number", "boolean", "date", "list", "object", "any")
PROFILE_FIELD = {
    "type": ["string", "object"],
    "description": "a type (string, number, boolean, date, list, object, any) or {type, nullable, description}",
}
PROFILE = {
    "type": "object",
    "propertyNames": {"pattern": IDENTIFIER},
    "additionalProperties": PROFILE_FIELD,
    "description": "the traits a profile can have: templates and conditions may read only these (and the features)",
}

FREQUENCY_CAP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["max", "per"],
    "description": "at most `max` marketing emails per person per `per` (docs/delivery.md)",
    "properties": {
        # a database LIMIT holds 64 bits: a bigger max failed every send (an OverflowError);
        # a million per period is no cap at all already
        "max": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "per": DURATION,
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
        "profile": PROFILE,
        "products": {
            "type": "array",
            "items": {"type": "string", "pattern": IDENTIFIER},
            "description": "the catalog's columns (what a product can hold besides the recommendation fields)",
        },
        "frequency_cap": FREQUENCY_CAP,
        "monitor": {
            "type": "object",
            "description": "outcome attribution and drift alert thresholds (docs/monitoring.md)",
        },
    },
}

#: What a pattern means, for the messages (a regex is not advice).
_PATTERN_ADVICE = {
    IDENTIFIER: "use letters, digits and _, not starting with a digit",
    RULE_ID: "use letters, digits and _ . : / -",
    DURATION_PATTERN: DURATION_ADVICE,
}
_VALIDATORS: dict[int, Draft202012Validator] = {}


def validate(value: Any, schema: dict, where: Mark, path: str = "") -> Iterator[tuple[Mark, str]]:
    """Yield ``(mark, message)`` for each way ``value`` breaks ``schema``, and each duplicate YAML key."""
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = Draft202012Validator(schema)
    seen: set[tuple[Mark, str]] = set()
    for error in sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]):
        for found in _explain(error, value, where, path):
            if found not in seen:
                seen.add(found)
                yield found
    yield from _duplicates(value, where, path)


def _explain(error: ValidationError, root: Any, where: Mark, path: str) -> Iterator[tuple[Mark, str]]:
    steps = list(error.absolute_path)
    container, mark = _locate(root, steps[:-1], where) if steps else (None, where)
    if steps:
        mark = _child_mark(container, steps[-1], mark)
    label = _label(path, steps)
    if error.validator in ("required", "dependentRequired", "additionalProperties", "propertyNames"):
        yield from _object_messages(error, mark, label)
    else:
        yield mark, f"{label}: {_value_message(error)}"


def _object_messages(error: ValidationError, mark: Mark, label: str) -> Iterator[tuple[Mark, str]]:
    """Keys missing, unknown or badly named: at the object, or at the key itself."""
    instance, expected = error.instance, error.validator_value
    marked = instance if isinstance(instance, MarkedDict) else None
    if error.validator == "required":
        for key in expected:
            if key not in instance:
                yield mark, f"{label}: missing required key {key!r}"
    elif error.validator == "dependentRequired":
        for key, needs in expected.items():
            for other in needs if key in instance else ():
                if other not in instance:
                    yield mark, f"{label}: {key!r} needs {other!r}"
    elif error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        for key in instance:
            if key not in known and expected is False:
                key_mark = marked.key_mark(key) if marked else mark
                yield key_mark, f"{label}: unknown key {key!r} (known: {', '.join(sorted(known))})"
    else:  # propertyNames: the failing name is the instance of the nested error
        name = error.context[0].instance if error.context else instance
        pattern = error.schema["propertyNames"].get("pattern", "")
        advice = _PATTERN_ADVICE.get(pattern, f"must match {pattern}")
        yield (marked.key_mark(name) if marked else mark), f"{label}: name {name!r} is not valid: {advice}"


def _value_message(error: ValidationError) -> str:
    instance, expected = error.instance, error.validator_value
    if error.validator == "type":
        allowed = [expected] if isinstance(expected, str) else expected
        return f"expected {' or '.join(allowed)}, got {_type_name(instance)}"
    if error.validator == "pattern" and expected == DURATION_PATTERN:
        return f"{instance!r} is not a duration: {DURATION_ADVICE}"
    if error.validator == "pattern":
        return f"{instance!r} is not valid: {_PATTERN_ADVICE.get(expected, 'must match ' + expected)}"
    if error.validator == "anyOf" and error.schema is WINDOW:
        return f"{instance!r} is not a duration: {DURATION_ADVICE}, or forever"
    if error.validator == "oneOf":
        return "give exactly one of " + " or ".join("+".join(repr(k) for k in o.get("required", ())) for o in expected)
    if error.validator == "minimum":
        return f"{instance} is below the minimum {expected}"
    if error.validator == "enum":
        return f"{instance!r} is not one of {', '.join(map(repr, expected))}"
    if error.validator == "minItems":
        return f"needs at least {expected} item(s)"
    return error.message


def _locate(root: Any, steps: list[Any], where: Mark) -> tuple[Any, Mark]:
    """The container at ``steps`` below ``root``, and its position."""
    node, mark = root, where
    for step in steps:
        mark = _child_mark(node, step, mark)
        node = node[step]
    return node, mark


def _child_mark(container: Any, step: Any, fallback: Mark) -> Mark:
    if isinstance(container, MarkedDict):
        return container.value_mark(step)
    if isinstance(container, MarkedList) and isinstance(step, int):
        return container.item_mark(step)
    return fallback


def _label(path: str, steps: list[Any]) -> str:
    label = path
    for step in steps:
        label += f"[{step}]" if isinstance(step, int) else (f".{step}" if label else str(step))
    return label or "the file"


def _type_name(value: Any) -> str:
    checker = Draft202012Validator.TYPE_CHECKER
    for name in ("boolean", "integer", "number", "string", "array", "object", "null"):
        if checker.is_type(value, name):
            return name
    return type(value).__name__


def _duplicates(value: Any, where: Mark, path: str) -> Iterator[tuple[Mark, str]]:
    """YAML keys given twice: the loader keeps the last, JSON Schema never sees the first."""
    if isinstance(value, MarkedDict):
        label = path or "the file"
        for key, mark in value.duplicates:
            yield mark, f"{label}: duplicate key {key!r}"
        for key, item in value.items():
            yield from _duplicates(item, value.value_mark(key), f"{path}.{key}" if path else str(key))
    elif isinstance(value, MarkedList):
        for index, item in enumerate(value):
            yield from _duplicates(item, value.item_mark(index), f"{path}[{index}]")
