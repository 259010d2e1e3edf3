"""Static analysis of condition ASTs: source text, dotted paths, names, escapes.

Jinja nodes keep no source spans, so :func:`unparse` writes a sub-expression back
as text for the trace (``profile.days_since_purchase <= 30``).
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

_COMPARE = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in", "notin": "not in"}
_SIMPLE = (
    nodes.Name,
    nodes.Const,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Call,
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Filter,
)
#: Attributes the sandbox refuses at run time; reported before anything runs.
_PRECEDENCE: tuple[tuple[type[nodes.Node], int], ...] = (
    (nodes.CondExpr, 1),
    (nodes.Or, 2),
    (nodes.And, 3),
    (nodes.Not, 4),
    (nodes.Compare, 5),
    (nodes.Test, 6),
    (nodes.Concat, 7),
    (nodes.Add, 8),
    (nodes.Sub, 8),
    (nodes.Mul, 9),
    (nodes.Div, 9),
    (nodes.FloorDiv, 9),
    (nodes.Mod, 9),
    (nodes.Pos, 10),
    (nodes.Neg, 10),
    (nodes.Pow, 11),
)
_UNSAFE_ATTRIBUTES = frozenset(
    {
        "mro",
        "format",
        "format_map",
        "func_globals",
        "func_code",
        "f_globals",
        "f_locals",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
        "tb_frame",
        "im_func",
        "im_self",
    }
)


def unparse(node: nodes.Node) -> str:
    """Jinja source text for ``node`` (normalised spacing and quoting)."""
    for write in (_path_text, _operator_text, _call_text, _literal_text):
        text = write(node)
        if text is not None:
            return text
    return f"<{type(node).__name__}>"


def _path_text(node: nodes.Node) -> str | None:
    """Names, constants, attribute and item lookups, slices."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Const):
        return _const(node.value)
    if isinstance(node, nodes.Getattr):
        return f"{_wrap(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{_wrap(node.node)}[{unparse(node.arg)}]"
    if isinstance(node, nodes.Slice):
        parts = [unparse(p) if p is not None else "" for p in (node.start, node.stop)]
        return ":".join(parts) + (f":{unparse(node.step)}" if node.step is not None else "")
    return None


def _operator_text(node: nodes.Node) -> str | None:
    """Comparisons, ``not``, arithmetic, ``~`` and ``if``/``else``, parenthesised by precedence."""
    if isinstance(node, nodes.Compare):
        text = _wrap(node.expr, node)
        for op in node.ops:
            text += f" {_COMPARE.get(op.op, op.op)} {_wrap(op.expr, node)}"
        return text
    if isinstance(node, nodes.Not):
        return f"not {_wrap(node.node, node)}"
    if isinstance(node, nodes.UnaryExpr):
        return f"{node.operator}{_wrap(node.node, node)}"
    if isinstance(node, nodes.BinExpr):
        return f"{_wrap(node.left, node)} {node.operator} {_wrap(node.right, node)}"
    if isinstance(node, nodes.Concat):
        return " ~ ".join(_wrap(n, node) for n in node.nodes)
    if isinstance(node, nodes.CondExpr):
        text = f"{_wrap(node.expr1, node)} if {_wrap(node.test, node)}"
        return text + (f" else {_wrap(node.expr2, node)}" if node.expr2 is not None else "")
    return None


def _call_text(node: nodes.Node) -> str | None:
    """Filters, tests and calls with their arguments."""
    if isinstance(node, nodes.Filter) and node.node is not None:  # None only in a {% filter %} block
        return f"{_wrap(node.node)} | {node.name}{_arguments(node)}"
    if isinstance(node, nodes.Test):
        return f"{_wrap(node.node)} is {node.name}{_arguments(node, bare=True)}"
    if isinstance(node, nodes.Call):
        return f"{_wrap(node.node)}{_arguments(node, always=True)}"
    return None


def _literal_text(node: nodes.Node) -> str | None:
    """List, tuple and dict literals."""
    if isinstance(node, nodes.List):
        return "[" + ", ".join(unparse(n) for n in node.items) + "]"
    if isinstance(node, nodes.Tuple):
        inner = ", ".join(unparse(n) for n in node.items)
        return f"({inner},)" if len(node.items) == 1 else f"({inner})"
    if isinstance(node, nodes.Dict):
        return "{" + ", ".join(f"{unparse(p.key)}: {unparse(p.value)}" for p in node.items) + "}"
    return None


def _const(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def _precedence(node: nodes.Node) -> int:
    if isinstance(node, _SIMPLE):
        return 20
    for kind, level in _PRECEDENCE:
        if isinstance(node, kind):
            return level
    return 0


def _wrap(node: nodes.Node, parent: nodes.Node | None = None) -> str:
    text = unparse(node)
    if parent is None:
        return text if isinstance(node, _SIMPLE) else f"({text})"
    # Same-level operands are wrapped too, except in and/or chains (associative).
    same_ok = isinstance(parent, (nodes.And, nodes.Or)) and type(node) is type(parent)
    if _precedence(node) > _precedence(parent) or (same_ok and _precedence(node) == _precedence(parent)):
        return text
    return f"({text})"


def _arguments(node: nodes.Call | nodes.Filter | nodes.Test, *, bare: bool = False, always: bool = False) -> str:
    args = [unparse(a) for a in node.args or ()]
    args += [f"{k.key}={unparse(k.value)}" for k in node.kwargs or ()]
    if not args and not always:
        return ""
    if bare and len(args) == 1 and not node.kwargs:
        return f" {args[0]}"
    return "(" + ", ".join(args) + ")"


def flatten(node: nodes.Expr, kind: type[nodes.BinExpr]) -> list[nodes.Expr]:
    """Operands of a chain of ``and`` (or ``or``), left to right."""
    if isinstance(node, kind):
        return flatten(node.left, kind) + flatten(node.right, kind)
    return [node]


def dotted(node: nodes.Node) -> str | None:
    """``profile.city`` for a chain of names, attributes and constant subscripts."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = dotted(node.node)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = dotted(node.node)
        if base is None:
            return None
        key = node.arg.value
        return f"{base}.{key}" if isinstance(key, str) and key.isidentifier() else f"{base}[{key!r}]"
    return None


def paths(node: nodes.Node) -> Iterator[tuple[str, nodes.Node]]:
    """The maximal dotted paths (data the expression reads), in source order."""
    if (path := dotted(node)) is not None:
        yield path, node
        return
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        # ``profile.tags.count('x')``: the data is ``profile.tags``, not the method.
        yield from paths(node.node.node)
        for argument in list(node.args) + [k.value for k in node.kwargs]:
            yield from paths(argument)
        return
    for child in node.iter_child_nodes():
        yield from paths(child)


def names(node: nodes.Node) -> set[str]:
    """Top-level names the expression looks up."""
    return {n.name for n in [node, *node.find_all(nodes.Node)] if isinstance(n, nodes.Name)}


def escapes(node: nodes.Node) -> list[str]:
    """Descriptions of attempts to reach Python internals (never executed)."""
    found = []
    every = [node, *node.find_all(nodes.Node)]
    for getattr_node in (n for n in every if isinstance(n, nodes.Getattr)):
        if getattr_node.attr.startswith("_") or getattr_node.attr in _UNSAFE_ATTRIBUTES:
            found.append(f"attribute {getattr_node.attr!r}")
    for const in (n for n in every if isinstance(n, nodes.Const)):
        # ``x['__class__']``, ``x | attr('__globals__')``
        if isinstance(const.value, str) and const.value.startswith("__"):
            found.append(f"name {const.value!r}")
    for name in (n for n in every if isinstance(n, nodes.Name)):
        if name.name.startswith("_"):
            found.append(f"name {name.name!r}")
    return found
