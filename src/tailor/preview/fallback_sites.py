"""Where a template can take a data fallback: the places its Jinja code uses a recipient's data.

The coverage personas need, for each fallback reason a profile or a send context can cause
(:data:`tailor.rendering.fallbacks.REASONS`), data that makes a render take it. This walks
the Jinja AST of every piece of every template (the page and each slot block, as they
render; :meth:`Expanded.pieces`) and lists *sites*: a data path and the value that would
send the render down a fallback there —

- a value printed without ``default(…, true)`` → ``null-value`` with ``null``;
- the input of ``money``/``number``/``percent`` → ``missing-number`` with ``null`` and
  ``bad-number`` with a string; ``money``'s currency → ``other-currency`` with another
  currency than the send context's (which it sets to the settings' currency) and
  ``bad-currency`` with an unknown code;
- the input of ``date``/``datetime`` → ``bad-date`` with a string that is no date;
- a number in a slot block's arithmetic → ``block-failed`` with a string (the block raises
  and the slot's default renders).

Paths are followed through ``{% set %}`` and ``{% for %}`` (``item`` of
``{% for item in context.order['items'] %}`` is ``context.order.items[]``) and kept when
they start at data a persona carries: ``profile.*`` (traits), ``context.*`` (the send
context) and ``triggers.NAME.items[].*`` (the trigger's events). An enclosing
``{% if x is number %}`` adds ``x = 10`` to the site. Nothing here decides whether a site
is reached: the coverage generator renders each candidate and keeps what the render shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from tailor.core import Tailor
from tailor.problems import ProblemError

#: the roots of data a persona file carries
ROOTS = ("profile", "context", "triggers")
#: a number every ``is number`` guard accepts
GUARD_NUMBER = 10
NOT_A_NUMBER = "not a number"
NOT_A_DATE = "not a date"
UNKNOWN_CURRENCY = "XXX-NOT-A-CURRENCY"
_NUMBER_FILTERS = {"money", "number", "percent"}
_DATE_FILTERS = {"date", "datetime"}
_ARITHMETIC = (nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow)
#: filters whose result is (an item of) their input
_SAME = {"default", "d", "list", "sort", "unique", "reverse", "select", "reject", "selectattr", "rejectattr"}
_ONE = {"first", "last"}


@dataclass(frozen=True)
class Site:
    """A value at ``path`` that makes a render take fallback ``reason`` (when the code there runs)."""

    reason: str
    path: str
    value: Any
    #: ``template welcome`` or ``block hero/cart-reminder``: what renders the code
    label: str
    #: ``path:line:col`` of the code that uses the value
    where: str
    #: the slot block holding the code (None: the page)
    block: str | None = None
    #: ``(path, value)`` the enclosing ``{% if %}`` tests need
    guards: tuple[tuple[str, Any], ...] = ()


def fallback_sites(tailor: Tailor, currency: str) -> list[Site]:
    """Every site of every template, in template and source order, first of each (reason, path, value)."""
    found: dict[tuple[str, str, str], Site] = {}
    compiler = tailor.compiler
    for name in tailor.template_names():
        try:
            _, expanded = compiler.expand(name)
        except ProblemError:
            continue  # `tailor check` reports it
        for block, piece in expanded.pieces():
            try:
                ast = compiler.html_env.parse(piece.source)
            except TemplateSyntaxError:
                continue
            walker = _Walker(currency, block)
            walker.body(ast.body)
            for site, lineno, word in walker.found:
                path, line, col = piece.locate_on_line(lineno, re.compile(re.escape(word)))
                label = f"block {block}" if block else f"template {name}"
                placed = Site(site.reason, site.path, site.value, label, f"{path}:{line}:{col}", block, site.guards)
                found.setdefault((site.reason, site.path, repr(site.value)), placed)
    return list(found.values())


class _Walker:
    def __init__(self, currency: str, block: str | None):
        self.currency = currency
        self.other_currency = "EUR" if currency != "EUR" else "USD"
        self.block = block
        self.aliases: list[dict[str, str | None]] = [{}]
        self.guards: list[tuple[str, Any]] = []
        #: (site without location, Jinja line, the name to find on that line)
        self.found: list[tuple[Site, int, str]] = []

    # -- statements ------------------------------------------------------------------

    def body(self, statements: list[nodes.Node]) -> None:
        for node in statements:
            self.statement(node)

    def statement(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    self.printed(child)
                    self.expression(child)
        elif isinstance(node, nodes.Assign) and isinstance(node.target, nodes.Name):
            self.expression(node.node)
            self.aliases[-1][node.target.name] = self.path(node.node)
        elif isinstance(node, nodes.For):
            self.expression(node.iter)
            items = self.path(node.iter)
            self.aliases.append({n.name: None for n in node.target.find_all(nodes.Name)})
            if isinstance(node.target, nodes.Name):
                self.aliases[-1][node.target.name] = f"{items}[]" if items else None
            self.body(node.body)
            self.aliases.pop()
            self.body(node.else_)
        elif isinstance(node, nodes.If):
            self.expression(node.test)
            with self.guarded(node.test):
                self.body(node.body)
            for branch in node.elif_:
                self.statement(branch)
            self.body(node.else_)
        elif isinstance(node, (nodes.Macro, nodes.CallBlock)):
            # a macro's arguments are whatever its callers pass: their data is not followed
            self.aliases.append({a.name: None for a in getattr(node, "args", [])})
            self.body(node.body)
            self.aliases.pop()
        else:
            for part in node.iter_child_nodes():
                if isinstance(part, nodes.Expr):
                    self.expression(part)
                else:
                    self.statement(part)

    @contextmanager
    def guarded(self, test: nodes.Node) -> Iterator[None]:
        added = [
            (path, GUARD_NUMBER)
            for part in _conjuncts(test)
            if isinstance(part, nodes.Test) and part.name == "number" and (path := self.path(part.node))
        ]
        self.guards += added
        try:
            yield
        finally:
            del self.guards[len(self.guards) - len(added) :]

    # -- expressions -----------------------------------------------------------------

    def printed(self, node: nodes.Node) -> None:
        """``{{ x }}`` / ``{{ x | default('') }}``: a null ``x`` prints as nothing."""
        inner = node
        while isinstance(inner, nodes.Filter) and inner.name in ("default", "d") and inner.node is not None:
            if len(inner.args) > 1 or any(k.key == "boolean" for k in inner.kwargs):
                return  # default(…, true) replaces a null too
            inner = inner.node
        if isinstance(inner, (nodes.Getattr, nodes.Getitem)):
            self.site("null-value", self.path(inner), None, inner)

    def expression(self, node: nodes.Node) -> None:
        for filtered in _walk(node):
            if isinstance(filtered, nodes.Filter) and filtered.node is not None:
                value = self.path(filtered.node)
                if filtered.name in _NUMBER_FILTERS:
                    self.site("missing-number", value, None, filtered)
                    self.site("bad-number", value, NOT_A_NUMBER, filtered)
                    if filtered.name == "money" and filtered.args:
                        code = self.path(filtered.args[0])
                        # the send context fixes the email's currency (else one price would set it)
                        send = (("context.currency", self.currency),)
                        self.site("other-currency", code, self.other_currency, filtered, send)
                        self.site("bad-currency", code, UNKNOWN_CURRENCY, filtered)
                elif filtered.name in _DATE_FILTERS:
                    self.site("bad-date", value, NOT_A_DATE, filtered)
            elif isinstance(filtered, _ARITHMETIC) and self.block is not None:
                for side in (filtered.left, filtered.right):
                    self.site("block-failed", self.path(side), NOT_A_NUMBER, filtered)

    def site(
        self, reason: str, path: str | None, value: Any, node: nodes.Node, extra: tuple[tuple[str, Any], ...] = ()
    ) -> None:
        if not path or path.endswith("[]") or not path.startswith(ROOTS):
            return
        if path.startswith("triggers.") and ".items[]." not in path:
            return  # a trigger's own fields are computed from events, not carried
        guards = tuple(g for g in self.guards if g[0] != path) + extra
        word = path.rsplit(".", 1)[-1]
        self.found.append((Site(reason, path, value, "", "", self.block, guards), node.lineno, word))

    def path(self, node: nodes.Node | None) -> str | None:
        """The data path ``node`` reads (``context.order.items``), or None when it is not one."""
        if isinstance(node, nodes.Name):
            for scope in reversed(self.aliases):
                if node.name in scope:
                    return scope[node.name]
            return node.name if node.name in ROOTS else None
        if isinstance(node, nodes.Getattr):
            base = self.path(node.node)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            base = self.path(node.node)
            if base is None:
                return None
            return f"{base}[]" if isinstance(node.arg.value, int) else f"{base}.{node.arg.value}"
        if isinstance(node, nodes.Filter) and node.name in _SAME:
            return self.path(node.node)
        if isinstance(node, nodes.Filter) and node.name in _ONE:
            base = self.path(node.node)
            return f"{base}[]" if base else None
        if isinstance(node, nodes.CondExpr):
            return self.path(node.expr1) or self.path(node.expr2)
        if isinstance(node, nodes.Or):
            return self.path(node.left) or self.path(node.right)
        return None


def _conjuncts(test: nodes.Node) -> Iterator[nodes.Node]:
    if isinstance(test, nodes.And):
        yield from _conjuncts(test.left)
        yield from _conjuncts(test.right)
    else:
        yield test


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)
