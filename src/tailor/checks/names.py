"""Names checked before sending: every name a template prints exists for some recipient.

A typo (``profile.frist_name``) renders as nothing for everyone, and the email reads
", the cosiest knits of the season". This walks Jinja's AST of each piece of a template
(the page and each slot block, as they render) in source order, with the names each
statement brings into scope (``set``, loop variables, macro arguments, imports), and
reports a name nothing provides at the ``path:line:col`` of the file that holds it.

A use guarded by the marketer is fine: ``x | default(…)``, ``{% if x %}…x…{% endif %}``,
``x if x else …`` and ``x is defined``. There a typo is only a warning, when a known name
is close to it (a test of a name that never exists is always false).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from jinja2 import nodes

from tailor.checks.vocabulary import OPEN, Shape, list_of
from tailor.problems import did_you_mean
from tailor.rules.expressions import dotted, paths

#: filters whose result holds the same things as their input
_SAME = {"default", "d", "list", "sort", "unique", "reverse", "select", "reject", "selectattr", "rejectattr"}
#: filters that pick one item of a list
_ONE = {"first", "last", "random", "min", "max"}
#: filters that cut a list into lists
_CHUNKS = {"batch", "slice"}
_DICT_METHODS = frozenset(dir(dict))
#: the names Jinja gives inside macros and loops
_MACRO_NAMES = ("varargs", "kwargs", "caller")


@dataclass(frozen=True)
class Finding:
    """A name problem before it is located: the line in the piece and the text to find there."""

    lineno: int
    text: str
    message: str
    severity: Literal["error", "warning"] = "error"


class NameChecker:
    """Walks one parsed piece; :attr:`findings` holds what it found."""

    def __init__(
        self,
        names: dict[str, Shape],
        segments: set[str] | None,
        environment: Any,
        *,
        foreign: Any = None,
    ):
        self.scopes: list[dict[str, Shape]] = [dict(names)]
        #: the declared segments (None: unknown, nothing to check against)
        self.segments = segments
        self.globals = set(environment.globals)
        #: ``(name) -> message or None``: a name from another tool (``FirstName``), reported as such
        self.foreign = foreign
        self.guarded: list[set[str]] = []
        self.findings: list[Finding] = []

    # -- scope -----------------------------------------------------------------------

    def lookup(self, name: str) -> Shape | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    @contextmanager
    def scope(self, names: dict[str, Shape]) -> Iterator[None]:
        self.scopes.append(dict(names))
        try:
            yield
        finally:
            self.scopes.pop()

    @contextmanager
    def guarding(self, test: nodes.Node | None) -> Iterator[None]:
        """Inside ``{% if test %}`` or ``… if test``: what the test reads is known to be there."""
        self.guarded.append({path for path, _ in paths(test)} if test is not None else set())
        try:
            yield
        finally:
            self.guarded.pop()

    def is_guarded(self, path: str | None) -> bool:
        if path is None:
            return False
        return any(p == path or p.startswith(path + ".") for tested in self.guarded for p in tested)

    def define(self, target: nodes.Node, shape: Shape) -> None:
        if isinstance(target, nodes.Name):
            self.scopes[-1][target.name] = shape
        elif isinstance(target, nodes.Tuple):
            for item in target.items:
                self.define(item, OPEN)

    # -- statements --------------------------------------------------------------------

    def run(self, body: list[nodes.Node]) -> list[Finding]:
        for node in body:
            self.statement(node)
        return self.findings

    def statement(self, node: nodes.Node) -> None:  # noqa: C901 - one branch per kind of tag
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    self.printed(child)
        elif isinstance(node, nodes.If):
            self.expr(node.test, guarded=True)
            with self.guarding(node.test):
                self.run(node.body)
            for branch in node.elif_:
                self.statement(branch)
            self.run(node.else_)
        elif isinstance(node, nodes.For):
            iterated = self.expr(node.iter)
            item = iterated.item if iterated.item is not None else OPEN
            with self.scope({"loop": OPEN}):
                self.define(node.target, item)
                if node.test is not None:
                    self.expr(node.test, guarded=True)
                self.run(node.body)
            self.run(node.else_)
        elif isinstance(node, nodes.Assign):
            self.define(node.target, self.expr(node.node))
        elif isinstance(node, nodes.AssignBlock):
            self.run(node.body)
            self.define(node.target, OPEN)
        elif isinstance(node, (nodes.Macro, nodes.CallBlock)):
            self._callable(node)
        elif isinstance(node, nodes.With):
            for value in node.values:
                self.expr(value)
            with self.scope({}):
                for target in node.targets:
                    self.define(target, OPEN)
                self.run(node.body)
        elif isinstance(node, nodes.Import):
            self.scopes[-1][node.target] = OPEN
        elif isinstance(node, nodes.FromImport):
            for name in node.names:
                self.scopes[-1][name if isinstance(name, str) else name[1]] = OPEN
        elif isinstance(node, (nodes.Include, nodes.Extends)):
            return  # resolved by the expansion (literal) or refused by the compiler
        else:
            for inner in node.iter_child_nodes():
                if isinstance(inner, nodes.Stmt):
                    self.statement(inner)
                elif isinstance(inner, nodes.Expr):
                    self.expr(inner)

    def _callable(self, node: nodes.Macro | nodes.CallBlock) -> None:
        if isinstance(node, nodes.Macro):
            self.scopes[-1][node.name] = OPEN
        else:
            self.expr(node.call)
        for default in node.defaults:
            self.expr(default)
        with self.scope(dict.fromkeys([*(a.name for a in node.args), *_MACRO_NAMES], OPEN)):
            self.run(node.body)

    def printed(self, node: nodes.Expr) -> None:
        """``{{ node }}``: also warns when what it prints is null for some recipients."""
        if not isinstance(node, nodes.Getattr):
            self.expr(node)
            return
        base = self.expr(node.node)
        self.field(base, node.attr, node, guarded=False)
        path = dotted(node)
        if node.attr in base.nullable and not self.is_guarded(path):
            # "It's been  days": the sentence around it is wrong without the value
            self.findings.append(
                Finding(
                    node.lineno,
                    path or node.attr,
                    f"{path} is null for some recipients (those without that data), "
                    f"so the text around it would read wrong: wrap it in {{% if {path} is not none %}}…{{% endif %}} "
                    f"or give it a default, e.g. {{{{ {path} | default('…', true) }}}}",
                )
            )

    # -- expressions --------------------------------------------------------------------

    def expr(self, node: nodes.Node | None, *, guarded: bool = False) -> Shape:
        """The shape of what ``node`` evaluates to; reports unknown names on the way."""
        if node is None:
            return OPEN
        if isinstance(node, nodes.Name):
            return self.name(node, guarded)
        if isinstance(node, nodes.Getattr):
            return self.field(self.expr(node.node, guarded=guarded), node.attr, node, guarded)
        if isinstance(node, nodes.Getitem):
            return self._item(node, guarded)
        if isinstance(node, nodes.Filter):
            return self._filter(node, guarded)
        if isinstance(node, nodes.Test):
            self.expr(node.node, guarded=True)
            self._arguments(node, guarded)
            return OPEN
        if isinstance(node, nodes.CondExpr):
            self.expr(node.test, guarded=True)
            with self.guarding(node.test):
                chosen = self.expr(node.expr1, guarded=guarded)
            other = self.expr(node.expr2, guarded=guarded)
            return chosen if chosen is not OPEN else other
        if isinstance(node, (nodes.And, nodes.Or)):
            left = self.expr(node.left, guarded=guarded)
            with self.guarding(node.left if isinstance(node, nodes.And) else None):
                right = self.expr(node.right, guarded=guarded)
            if isinstance(node, nodes.Or):  # ``recs or []`` holds what ``recs`` holds
                return left if left is not OPEN else right
            return OPEN
        if isinstance(node, nodes.Compare):
            self._segment_test(node)
        if isinstance(node, nodes.Call):
            self.expr(node.node, guarded=guarded)
            self._arguments(node, guarded)
            return OPEN
        for child in node.iter_child_nodes():
            self.expr(child, guarded=guarded)
        return OPEN

    def name(self, node: nodes.Name, guarded: bool) -> Shape:
        shape = self.lookup(node.name)
        if shape is not None:
            return shape
        if node.name in self.globals or guarded or self.is_guarded(node.name):
            return OPEN
        foreign = self.foreign(node.name) if self.foreign is not None else None
        known = [n for scope in self.scopes for n in scope]
        profile = self.scopes[0].get("profile")
        if profile is not None and profile.fields is not None and node.name in profile.fields:
            hint = f" (did you mean 'profile.{node.name}'?)"  # ``{{ first_name }}``: traits live under profile
        else:
            hint = did_you_mean(node.name, known) or f" (templates can read {', '.join(sorted(self.scopes[0]))})"
        message = foreign or f"unknown name {node.name!r}{hint}"
        self.findings.append(Finding(node.lineno, node.name, message))
        return OPEN

    def field(self, base: Shape, attr: str, node: nodes.Node, guarded: bool) -> Shape:
        if base.fields is None:
            return OPEN
        if attr in base.fields:
            if attr in _DICT_METHODS and isinstance(node, nodes.Getattr):
                # ``trigger.items`` finds the dict's method, not the field: it prints "<built-in method…>"
                path = dotted(node) or attr
                self.findings.append(
                    Finding(
                        node.lineno,
                        path,
                        f"{path} is the dict method {attr}(), not the field: write {dotted(node.node)}['{attr}']",
                    )
                )
            return base.fields[attr]
        if attr in _DICT_METHODS:
            return OPEN
        path = dotted(node) or attr
        hint = did_you_mean(attr, base.fields)
        if (guarded or self.is_guarded(path)) and not base.strict:
            if hint:  # guarded, so it renders; but a close known name says it is a typo
                self.findings.append(
                    Finding(node.lineno, path, f"{path!r} never exists: {base.missing(attr)}{hint}", "warning")
                )
            return OPEN
        self.findings.append(
            Finding(node.lineno, path, f"unknown name {path!r}: {base.missing(attr)}{hint or f' ({base.hint})'}")
        )
        return OPEN

    def _item(self, node: nodes.Getitem, guarded: bool) -> Shape:
        base = self.expr(node.node, guarded=guarded)
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            return self.field(base, node.arg.value, node, guarded)
        self.expr(node.arg)
        return base.item if base.item is not None else OPEN

    def _filter(self, node: nodes.Filter, guarded: bool) -> Shape:
        default = node.name in ("default", "d")
        if default and isinstance(node.node, nodes.Getattr):
            shape = self._defaulted(node, node.node)
        else:
            shape = self.expr(node.node, guarded=guarded or default)
        self._arguments(node, guarded)
        if node.name in _SAME:
            return shape
        if node.name in _ONE:
            return shape.item if shape.item is not None else OPEN
        if node.name in _CHUNKS and shape.item is not None:
            return list_of(list_of(shape.item))
        return OPEN

    def _defaulted(self, node: nodes.Filter, value: nodes.Getattr) -> Shape:
        """``x.y | default(…)``: replaces a missing ``y``, and a null one only with ``true``."""
        base = self.expr(value.node, guarded=True)
        shape = self.field(base, value.attr, value, guarded=True)
        replaces_null = len(node.args) > 1 or any(k.key == "boolean" for k in node.kwargs)
        if value.attr in base.nullable and not replaces_null and not self.is_guarded(dotted(value)):
            path = dotted(value)
            self.findings.append(
                Finding(
                    node.lineno,
                    path or value.attr,
                    f"{path} is null (not missing) for some recipients, and default(…) replaces only missing "
                    f"values: write {path} | default(…, true)",
                )
            )
        return shape

    def _arguments(self, node: nodes.Call | nodes.Filter | nodes.Test, guarded: bool) -> None:
        for argument in [*node.args, *(k.value for k in node.kwargs), node.dyn_args, node.dyn_kwargs]:
            if argument is not None:
                self.expr(argument, guarded=guarded)

    def _segment_test(self, node: nodes.Compare) -> None:
        from tailor.rules.checks import segment_tests

        if self.segments is None:
            return
        for segment, compare in segment_tests(node):
            if segment not in self.segments:
                self.findings.append(
                    Finding(
                        compare.lineno,
                        f"'{segment}'",
                        f"undeclared segment {segment!r}: the test is always false; declare it under "
                        "`segments:` in rules/" + did_you_mean(segment, self.segments),
                    )
                )
