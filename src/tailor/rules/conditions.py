"""Rule conditions: Jinja expressions compiled once in the capped sandbox.

A condition that reads missing data does not match and does not raise. When a
condition does not match, :meth:`Condition.evaluate` explains why: the first
failing operand of the top-level ``and`` chain, the values it read, or the name
that was missing — unless the caller asked for no explanation (a send: the
explanation costs several times the test itself).

The conditions of one recipient run in one :class:`Scope`: one Jinja context for
all of them, instead of a fresh context (a copy of the names and the globals) per
condition, which cost ten times the condition's own code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import ChainableUndefined, Undefined, nodes
from jinja2.environment import Template
from jinja2.exceptions import TemplateSyntaxError
from jinja2.parser import Parser

from tailor.features import FEATURE_NAMES
from tailor.rules.expressions import dotted, escapes, flatten, names, paths, unparse
from tailor.rules.jsonable import jsonable
from tailor.sandbox import CappedSandbox, RenderTimeLimit, render_limits

#: Names a condition may read (SPEC.md, "The profile document and the template context").
CONTEXT_NAMES = ("profile", "triggers", "segments", "recs", "context", "now")
#: Names whose use makes a rule behavioural (skipped without personalization consent).
BEHAVIOURAL_NAMES = frozenset({"triggers", "segments", "recs"})


class MissingValue(ChainableUndefined):
    """Missing data: falsy, chainable (``a.b.c``), never printed into a trace."""

    __slots__ = ()


class ConditionError(Exception):
    """A condition that cannot be compiled; ``lineno`` is relative to the condition."""

    def __init__(self, message: str, lineno: int = 1):
        super().__init__(message)
        self.lineno = lineno


@functools.cache
def environment() -> CappedSandbox:
    """The one sandbox conditions compile in (never mutated after creation: thread-safe)."""
    return CappedSandbox(undefined=MissingValue)


@dataclass
class Outcome:
    """Whether a condition matched and, if not, why."""

    matched: bool
    detail: dict[str, Any] = field(default_factory=dict)


class Scope:
    """The names of one recipient's conditions, as one Jinja context they all run in.

    Built once per decision (``RuleBook.decide``, ``RuleBook.segments_for``); not shared
    between threads. :meth:`set` changes a name for the conditions that follow (the
    segments list grows while segments are evaluated).
    """

    __slots__ = ("names", "jinja")

    def __init__(self, names: Mapping[str, Any]):
        self.names = dict(names)
        # any compiled condition's template gives the same globals: they all come from environment()
        self.jinja = _scope_template().new_context(self.names)

    def set(self, name: str, value: Any) -> None:
        self.names[name] = value
        self.jinja.parent[name] = value


class Condition:
    """A compiled condition; ``Condition(True)`` always matches."""

    def __init__(self, source: str | bool | None):
        self.source = source
        self.always = (
            source is None or source is True or (isinstance(source, str) and source.strip() in ("true", "True"))
        )
        self.never = source is False
        self.ast: nodes.Expr | None = None
        self._parts: dict[int, Template] = {}
        self._expr: Template | None = None
        if self.always or not isinstance(source, str):  # None and True: always; False: never
            return
        self.ast = _parse(source)
        bad = escapes(self.ast)
        if bad:
            # Reported by ``tailor check`` and never compiled into runnable code.
            raise ConditionError(f"not allowed in the sandbox: {', '.join(sorted(set(bad)))}")
        self._expr = self._compile(self.ast)

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"

    @property
    def text(self) -> str:
        if self.always:
            return "always"
        return "never" if self.never else str(self.source).strip()

    @property
    def names(self) -> set[str]:
        return names(self.ast) if self.ast is not None else set()

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in paths(self.ast)] if self.ast is not None else []

    @property
    def behavioural(self) -> bool:
        """Reads triggers, segments, recs or a computed profile feature."""
        if self.names & BEHAVIOURAL_NAMES:
            return True
        return any(
            p.split(".")[1:2] and p.split(".")[1] in FEATURE_NAMES for p in self.paths if p.startswith("profile.")
        )

    def evaluate(self, context: Mapping[str, Any] | Scope, *, explain: bool = True) -> Outcome:
        """Evaluate against ``context`` (names, or a :class:`Scope` of them); never raises for
        missing or odd data. ``explain=False`` leaves out why a condition did not match."""
        if self.always:
            return Outcome(True)
        if self.never:
            return Outcome(False, {"failed": "false"} if explain else {})
        scope = context if isinstance(context, Scope) else Scope(context)
        # under the render's deadline (or one of its own): a condition cannot hold the worker
        with render_limits():
            return self._evaluate(scope, explain)

    def _evaluate(self, scope: Scope, explain: bool) -> Outcome:
        ast, expr = self.ast, self._expr
        assert ast is not None and expr is not None  # compiled by __init__ unless always or never
        ok, error = _truth(expr, scope)
        if error:
            # One operand failing (``None <= 30``) must not sink a whole ``or``:
            # re-evaluate with the failing operands as "unknown" (SQL-style).
            ok = self._tristate(ast, scope) is True
        if ok:
            return Outcome(True)
        detail = self._explain(ast, scope) if explain else {}
        if error and "error" not in detail:
            detail["error"] = error
        return Outcome(False, detail)

    def _compile(self, node: nodes.Expr) -> Template:
        env = environment()
        body = [nodes.Assign(nodes.Name("result", "store"), node, lineno=1)]
        try:
            template = env.from_string(nodes.Template(body, lineno=1))
        except TemplateSyntaxError as exc:
            raise ConditionError(exc.message or str(exc), exc.lineno or 1) from None
        return template

    def _part(self, node: nodes.Expr) -> Template:
        # Sub-expressions are compiled only when a trace needs them, then cached.
        expr = self._parts.get(id(node))
        if expr is None:
            expr = self._parts[id(node)] = self._compile(node)
        return expr

    def _tristate(self, node: nodes.Expr, scope: Scope) -> bool | None:
        """True/False, or None when an operand raised (unknown never matches)."""
        if isinstance(node, (nodes.And, nodes.Or)):
            decisive = isinstance(node, nodes.Or)  # the value that short-circuits
            unknown = False
            for part in flatten(node, type(node)):
                value = self._tristate(part, scope)
                if value is decisive:
                    return decisive
                unknown = unknown or value is None
            return None if unknown else not decisive
        if isinstance(node, nodes.Not):
            value = self._tristate(node.node, scope)
            return None if value is None else not value
        ok, error = _truth(self._part(node), scope)
        return None if error else ok

    def _explain(self, node: nodes.Expr, scope: Scope) -> dict[str, Any]:
        if isinstance(node, nodes.And):
            for part in flatten(node, nodes.And):
                if self._tristate(part, scope) is not True:
                    return self._explain(part, scope)
        detail: dict[str, Any] = {"failed": unparse(node)}
        values: dict[str, Any] = {}
        for path, path_node in paths(node):
            value = resolve(path_node, scope.names)
            if isinstance(value, Undefined):
                detail.setdefault("missing", path)
            elif path not in values:
                values[path] = jsonable(value)
        detail["values"] = values
        _, error = _truth(self._part(node), scope)
        if error:
            detail["error"] = error
        return detail


def _parse(source: str) -> nodes.Expr:
    env = environment()
    try:
        parser = Parser(env, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            token = parser.stream.current
            raise TemplateSyntaxError(f"unexpected {token.value!r} after the expression", token.lineno, None, None)
    except TemplateSyntaxError as exc:
        raise ConditionError(exc.message or str(exc), exc.lineno or 1) from None
    expr.set_environment(env)
    return expr


@functools.cache
def _scope_template() -> Template:
    """A template of the conditions' environment, to make a :class:`Scope`'s context with."""
    return environment().from_string("")


def _truth(expr: Template, scope: Scope) -> tuple[bool, str | None]:
    """``(matched, error)``: comparing missing data raises inside Jinja; that is a non-match.

    Runs the compiled ``{% set result = … %}`` in the scope's context, as Jinja's
    ``TemplateExpression`` would in a fresh one.
    """
    jinja = scope.jinja
    try:
        for _ in expr.root_render_func(jinja):
            pass
        return bool(jinja.vars.pop("result")), None
    except RenderTimeLimit:
        raise  # the render is out of time: refused as a whole, not one non-matching rule
    except Exception as exc:  # any failure of marketer data is a non-match
        return False, f"{type(exc).__name__}: {exc}"


def resolve(node: nodes.Node, context: Mapping[str, Any]) -> Any:
    """The value of a dotted path node, looked up the way the sandbox does."""
    env = environment()
    if isinstance(node, nodes.Name):
        return context[node.name] if node.name in context else env.undefined(name=node.name)
    if not isinstance(node, (nodes.Getattr, nodes.Getitem)):
        return env.undefined(name=dotted(node))  # not a path: nothing to look up
    base = resolve(node.node, context)
    if isinstance(base, Undefined):
        return base
    try:
        if isinstance(node, nodes.Getattr):
            return env.getattr(base, node.attr)
        if isinstance(node.arg, nodes.Const):
            return env.getitem(base, node.arg.value)
    except Exception:  # the trace shows it as missing
        pass
    return env.undefined(name=dotted(node))
