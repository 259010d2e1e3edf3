"""Solving rule conditions: which data makes a condition true, or keeps it from being true.

A condition's AST (:mod:`tailor.rules.expressions`) is turned into a disjunction of
*requirements*: each a conjunction of predicates on dotted paths (``profile.city == 'New
York'``, ``profile.days_since_purchase <= 30``), trigger states and recipient-id choices. Any
one requirement, made into data, makes the condition come out the way asked.

Three ways a condition can be wanted, because conditions are three-valued (a comparison with
missing data raises and reads as *unknown*, never as a match):

- ``TRUE``: the condition must match;
- ``FALSE``: it must be false, known (so ``not`` of it matches);
- ``NOT_TRUE``: it must not match: false or unknown (a higher-priority rule that must lose).

What the solver cannot read (``now``, ``recs``, filters, arithmetic) becomes an
*unsolvable* note; the caller verifies every candidate by deciding it for real, so the
solver may be incomplete but never decides on its own what matches.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from jinja2 import nodes

from tailor.rules.conditions import Condition
from tailor.rules.expressions import dotted, flatten, unparse

#: cap on the requirements one condition expands to (a product of ``or`` chains grows fast)
MAX_TERMS = 64


class Want(Enum):
    TRUE = "true"
    FALSE = "false"
    NOT_TRUE = "not true"


#: an atom's test on one present value (``None`` is a JSON null, not a missing path)
Check = Callable[[Any], bool]


class _Unset:
    """A path left out of the profile (conditions see it as missing data)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Predicate:
    """One test the value at ``path`` must pass; ``text`` says it the way the rule does."""

    path: str
    text: str
    check: Check = field(compare=False)
    #: values worth trying first (constants of the condition and their neighbours)
    hints: tuple[Any, ...] = field(default=(), compare=False)
    #: whether leaving the path unset passes
    unset_ok: bool = False


@dataclass(frozen=True)
class Requirement:
    """A conjunction: every predicate holds, every named trigger is in the given state."""

    predicates: tuple[Predicate, ...] = ()
    #: trigger name → active
    triggers: tuple[tuple[str, bool], ...] = ()
    #: what the solver could not turn into data (shown when verification then fails)
    unsolved: tuple[str, ...] = ()
    #: why this requirement can never hold (an undeclared segment or trigger); empty if it can
    impossible: tuple[str, ...] = ()

    def __and__(self, other: Requirement) -> Requirement:
        return Requirement(
            _union(self.predicates, other.predicates),
            _union(self.triggers, other.triggers),
            _union(self.unsolved, other.unsolved),
            _union(self.impossible, other.impossible),
        )

    def trigger_states(self) -> dict[str, bool] | None:
        """trigger → active, or None when one trigger is wanted both active and inactive."""
        states: dict[str, bool] = {}
        for name, active in self.triggers:
            if states.setdefault(name, active) != active:
                return None
        return states


def _union(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys([*a, *b]))


ALWAYS = [Requirement()]


def conjoin(*alternatives: list[Requirement]) -> list[Requirement]:
    """All of several conditions: the product of their requirements (capped at MAX_TERMS)."""
    result = ALWAYS
    for options in alternatives:
        result = [a & b for a, b in itertools.islice(itertools.product(result, options), MAX_TERMS)]
    return result


class Solver:
    """Requirements for conditions of one rule book: its segments and triggers are known."""

    def __init__(self, segments: Mapping[str, Condition], triggers: Iterable[str], learned: Iterable[str] = ()):
        self.segments = dict(segments)
        self.triggers = set(triggers)
        #: labels of clustering segments: a trained model assigns them, no condition says how
        self.learned = set(learned)
        self._active: set[str] = set()  # segments being expanded (a cycle reads as unsolvable)

    def solve(self, condition: Condition, want: Want) -> list[Requirement]:
        if condition.always:
            return ALWAYS if want is not Want.FALSE else [Requirement(impossible=("the condition is always true",))]
        if condition.never or condition.ast is None:
            if want is Want.TRUE:
                return [Requirement(impossible=("the condition is always false",))]
            return ALWAYS
        return self._node(condition.ast, want)

    def _node(self, node: nodes.Expr, want: Want) -> list[Requirement]:
        if isinstance(node, (nodes.And, nodes.Or)):
            parts = flatten(node, type(node))
            # an `and` is true when every part is; an `or` is false (or not true) when every part is
            every = isinstance(node, nodes.And) == (want is Want.TRUE)
            solved = [self._node(part, want) for part in parts]
            if every:
                return conjoin(*solved)
            return [r for options in solved for r in options][:MAX_TERMS]
        if isinstance(node, nodes.Not):
            inner = {Want.TRUE: Want.FALSE, Want.FALSE: Want.TRUE, Want.NOT_TRUE: Want.TRUE}[want]
            return self._node(node.node, inner)
        return self._atom(node, want)

    # -- atoms -----------------------------------------------------------------------

    def _atom(self, node: nodes.Expr, want: Want) -> list[Requirement]:
        text = unparse(node)
        found = _read_atom(node)
        if found is None:
            if want is Want.NOT_TRUE:  # unknown data reads as "not a match": leave it out
                return ALWAYS
            return [Requirement(unsolved=(text,))]
        path, test, hints, when_unset = found
        if path == "segments":
            return self._segment(hints[0], want, text)
        if path.startswith("triggers."):
            return self._trigger(path, test, want, text)
        if path.split(".")[0] not in ("profile", "context"):
            if want is Want.NOT_TRUE:
                return ALWAYS
            return [Requirement(unsolved=(text,))]
        if want is Want.TRUE:
            return [Requirement((Predicate(path, text, test, hints, when_unset is True),))]

        def negated(value: Any) -> bool:
            return not test(value)

        # missing data makes a comparison raise: unknown, which is "not true" but not "false"
        unset_ok = when_unset is False or (want is Want.NOT_TRUE and when_unset is None)
        return [Requirement((Predicate(path, f"not ({text})", negated, hints, unset_ok),))]

    def _segment(self, name: Any, want: Want, text: str) -> list[Requirement]:
        if name in self.learned:
            if want is Want.TRUE:
                return [Requirement(unsolved=(f"{text} (a label the clustering model assigns)",))]
            return ALWAYS
        segment = self.segments.get(name) if isinstance(name, str) else None
        if segment is None or name in self._active:
            if want is Want.TRUE:
                return [Requirement(impossible=(f"segment {name!r} is not declared in rules/",))]
            return ALWAYS
        self._active.add(name)
        try:
            # membership is known either way: "not in" is the segment's condition not being true
            return self.solve(segment, Want.TRUE if want is Want.TRUE else Want.NOT_TRUE)
        finally:
            self._active.discard(name)

    def _trigger(self, path: str, test: Check, want: Want, text: str) -> list[Requirement]:
        parts = path.split(".")
        name = parts[1]
        if len(parts) != 3 or parts[2] != "active" or not test(True) or test(False):
            return ALWAYS if want is Want.NOT_TRUE else [Requirement(unsolved=(text,))]
        if name not in self.triggers:
            if want is Want.TRUE:
                return [Requirement(impossible=(f"trigger {name!r} is not declared in rules/",))]
            return ALWAYS
        return [Requirement(triggers=((name, want is Want.TRUE),))]


def _read_atom(node: nodes.Expr) -> tuple[str, Check, tuple[Any, ...], bool | None] | None:
    """``(path, test, hints, when_unset)`` for the atoms the solver understands.

    ``when_unset``: the atom's value with the path missing (None: unknown, it raises).
    Membership of a constant in ``segments`` comes back as path ``segments``, hint the name.
    """
    if (path := dotted(node)) is not None:
        return path, bool, (), False  # no hints: the caller's typical value (an address for an email)
    if isinstance(node, nodes.Test):
        path = dotted(node.node)
        if path is None:
            return None
        if node.name == "none":
            return path, lambda v: v is None, (None,), False
        if node.name == "defined":
            return path, lambda v: True, (), False
        if node.name == "undefined":
            return path, lambda v: False, (), True
        return None
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        method, path = node.node.attr, dotted(node.node.node)
        if path is None or method not in ("startswith", "endswith") or len(node.args) != 1:
            return None
        argument = _constant(node.args[0])
        if not isinstance(argument, str):
            return None
        hint = argument if method == "startswith" else f"x{argument}"

        def affix(value: Any) -> bool:
            return isinstance(value, str) and getattr(value, method)(argument)

        return path, affix, (hint,), None
    if isinstance(node, nodes.Compare) and len(node.ops) == 1:
        return _comparison(node.expr, node.ops[0].op, node.ops[0].expr)
    return None


_FLIPPED = {"lt": "gt", "gt": "lt", "lteq": "gteq", "gteq": "lteq", "eq": "eq", "ne": "ne"}
_MISSING = object()


def _comparison(left: nodes.Expr, op: str, right: nodes.Expr) -> tuple[str, Check, tuple[Any, ...], bool | None] | None:
    left_path, right_path = dotted(left), dotted(right)
    if left_path is None and right_path is not None and op in _FLIPPED:
        return _comparison(right, _FLIPPED[op], left)
    if op in ("in", "notin") and right_path is not None and left_path is None:
        value = _constant(left)
        if value is _MISSING:
            return None
        # `'vip' in segments`, `'gift' in profile.tags`
        holds = (lambda v: _contains(v, value)) if op == "in" else (lambda v: not _contains(v, value))
        if right_path == "segments" and op == "in":
            return "segments", holds, (value,), False
        return right_path, holds, ([value],), op == "notin"
    if left_path is None:
        return None
    value = _constant(right)
    if value is _MISSING:
        return None
    if op in ("in", "notin"):
        options = list(value) if isinstance(value, (list, tuple)) else []
        inside = op == "in"
        return left_path, (lambda v: _contains(options, v) == inside), tuple(options), not inside
    compare = _COMPARISONS.get(op)
    if compare is None:
        return None
    hints = _neighbours(value)
    when_unset = {"eq": False, "ne": True}.get(op)  # Jinja's Undefined equals nothing; ordering raises
    return left_path, (lambda v: compare(v, value)), hints, when_unset


def _contains(container: Any, value: Any) -> bool:
    try:
        return value in container
    except TypeError:
        return False


def _ordered(operator: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None or isinstance(a, bool) != isinstance(b, bool):
            return False
        try:
            return bool(operator(a, b))
        except TypeError:
            return False

    return compare


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": _ordered(lambda a, b: a < b),
    "lteq": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "gteq": _ordered(lambda a, b: a >= b),
}


def _neighbours(value: Any) -> tuple[Any, ...]:
    """The constant and the values just either side of it (boundaries make good test data)."""
    if isinstance(value, bool) or value is None:
        return (value, not value)
    if isinstance(value, int):
        return (value, value - 1, value + 1)
    if isinstance(value, float) and math.isfinite(value):
        return (value, value - 1, value + 1, value - 0.01, value + 0.01)
    if isinstance(value, str):
        return (value, f"not {value}" if value else "x")
    return (value,)


def _constant(node: nodes.Expr) -> Any:
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, (nodes.List, nodes.Tuple)):
        items = [_constant(item) for item in node.items]
        return _MISSING if any(i is _MISSING for i in items) else items
    if isinstance(node, nodes.Neg) and isinstance(node.node, nodes.Const) and isinstance(node.node.value, (int, float)):
        return -node.node.value
    return _MISSING


def choose_value(predicates: Iterable[Predicate], fallback: Any = True) -> tuple[bool, Any]:
    """``(found, value)``: a value passing every predicate, or :data:`UNSET` to leave the path out."""
    predicates = list(predicates)
    if all(p.unset_ok for p in predicates):
        return True, UNSET
    candidates: list[Any] = []
    for predicate in predicates:
        candidates.extend(predicate.hints)
    candidates += [fallback, 0, 1, "x", False, None]
    for candidate in dict.fromkeys(_hashable(c) for c in candidates):
        value = _unhashable(candidate)
        if all(p.check(value) for p in predicates):
            return True, value
    return False, None


def _hashable(value: Any) -> Any:
    return ("__list__", tuple(value)) if isinstance(value, list) else value


def _unhashable(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__list__":
        return list(value[1])
    return value
