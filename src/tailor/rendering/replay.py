"""The plain-text part prints the values the HTML part computed, instead of computing them again.

The text template is made from the HTML template (``rendering/text.py``): the same Jinja
tokens, with the HTML around them turned into text. Rendered on its own, it evaluated
every printed expression a second time — every ``money``, ``date``, ``default``, ``truncate``
and the guards around them — for about 0.8× the floor's time. Now, per template piece:

- the HTML render keeps each *shared* printed value, token by token, in evaluation order:
  ``{{ (x) | shown("f:3") | kept(7) }}`` prints ``x`` and appends it to list 7 of the store;
- the text render prints those values back, in the same order per token, without
  evaluating anything: ``{{ none | replayed(7) }}`` pops the oldest value of list 7.

The text render still runs the template's control flow (``if``/``for``/``set``), so each
token is reached the same number of times, in the same order, as in the HTML render —
provided the control flow decides the same way in both parts. A printed value is shared
only when that is certain (:func:`shared_outputs`):

- its expression and the tests, loop iterables and assignments it depends on give the
  same value in both parts: no calls (a macro or ``caller()`` renders HTML in one part and
  text in the other; imported macro files are converted to text), no filter that reads
  the autoescape setting or makes markup (``join``, ``replace``, ``safe``, ``tojson``…),
  no name bound by a macro, import, call block or ``{% set %}`` block, nor by an
  assignment or loop that is itself not certain — checked on the Jinja syntax tree;
- it is printed once in the text template, inside the same ``if``/``elif``/``else``/``for``
  branches as in the HTML (html2text moves a link's URL after its text, but never out of
  the tags around it; a token it drops is simply not shared).

Everything else renders in the text part as before. The markers are only understood by
:class:`ReplayCodeGenerator`, which only the compiler's own pieces are compiled with: a
marketer cannot write them (``kept``/``replayed`` are not filters, so ``tailor check``
refuses them), and a macro file imported at render time compiles with the ordinary
generator. The store sits in the render's context dict under a key no template name can
spell (it has a space), and holds only values the template printed itself.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple

from jinja2 import nodes
from jinja2.compiler import Frame
from jinja2.utils import _PassArg

from tailor.rendering.environment import ShownCodeGenerator, placed
from tailor.rendering.filters import FILTERS
from tailor.rendering.tokens import BLOCK_TAGS, JINJA_TOKEN, OUTPUT_TOKEN, TAG_WORD

#: the context key of a piece's store (list per shared token); not a name a template can write
STORE = "tailor kept"
KEPT, REPLAYED = "kept", "replayed"

#: block tags whose branches decide what renders (their bodies may share values)
_BRANCHING = {"if", "for", "filter", "with"}
_MIDDLE = {"elif", "else"}
#: names that are not data: the template's own machinery, or the part being rendered
_SPECIAL_NAMES = {"caller", "varargs", "kwargs", "self", "super", "__page"}
#: filters that make markup (``Markup`` joins and escapes differently in the two parts)
_MARKUP_FILTERS = {"safe", "escape", "e", "forceescape", "tojson", "urlize", "xmlattr", "tag_link"}
#: tailor's formatting filters read the render's Formatting, not the (autoescape) context
_TAILOR_FILTERS = frozenset(f for name, f in FILTERS.items() if name != "tag_link")


def new_store(text: bool) -> defaultdict[int, list[Any]]:
    """A piece's store: a list per shared token; with ``text`` off, every token's values go to one list thrown away."""
    if text:
        return defaultdict(list)
    sink: list[Any] = []
    return defaultdict(itertools.repeat(sink).__next__)


class ReplayCodeGenerator(ShownCodeGenerator):
    """:class:`ShownCodeGenerator` that understands the ``kept(n)``/``replayed(n)`` markers."""

    def write_commons(self) -> None:
        super().write_commons()
        # once per render of the piece (and per block function), not once per printed value
        self.writeline(f't_store = context.parent.get("{STORE}")')

    def visit_Filter(self, node: nodes.Filter, frame: Frame) -> None:
        slot = _marker_slot(node)
        if slot is None or node.node is None:
            super().visit_Filter(node, frame)
        elif node.name == KEPT:
            # the value printed, and kept for the text part (append gives None: `or` gives the value)
            self.write(f"(t_store[{slot}].append(t_kept := ")
            self.visit(node.node, frame)
            self.write(") or t_kept)")
        else:
            self.write(f"t_store[{slot}].pop(0)")

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        # a kept value went through `shown` already; a replayed one went through it in the HTML part
        marked = _marker_slot(node) is not None
        super()._output_child_pre(node, frame, finalize._replace(src=None) if marked else finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        marked = _marker_slot(node) is not None
        super()._output_child_post(node, frame, finalize._replace(src=None) if marked else finalize)


def _marker_slot(node: nodes.Node) -> int | None:
    if (
        isinstance(node, nodes.Filter)
        and node.name in (KEPT, REPLAYED)
        and len(node.args) == 1
        and isinstance(node.args[0], nodes.Const)
        and type(node.args[0].value) is int
        and not node.kwargs
        and node.dyn_args is None
        and node.dyn_kwargs is None
    ):
        return int(node.args[0].value)
    return None


def compile_code(env: Any, source: str) -> Any:
    """``env.compile(source)``, with :class:`ReplayCodeGenerator` writing the Python code."""
    generator = ReplayCodeGenerator(env, None, "<template>", optimized=env.optimized)
    generator.visit(env.parse(source))
    code = generator.stream.getvalue()  # type: ignore[attr-defined]  # a StringIO: no stream was passed
    return env._compile(code, "<template>")


class Sources(NamedTuple):
    """A piece's sources: HTML and text with their shared values marked, and the text as it reads."""

    html: str
    text: str
    plain_text: str


def marked_sources(html: str, text_pieces: list[str | int], env: Any) -> Sources:
    """The sources of a piece whose text template is ``text_pieces``: text and HTML token
    indices (``rendering/text.py``), with the values the text part takes from the HTML part marked.

    A link the compiler tags at render time, ``{% filter tag_link %}{{ url }}{% endfilter %}``
    with a shared ``url``, becomes ``{{ url | tag_link | kept(n) }}`` in the HTML: the
    same ``tag_url`` of the same string (``filters.tag_link``), without the filter block's
    escaping and unescaping, and the tagged URL is what the text part prints.
    """
    matches = list(JINJA_TOKEN.finditer(html))
    tokens = [m.group(0) for m in matches]
    text_order = [p for p in text_pieces if isinstance(p, int)]
    html_marks: dict[int, str] = {}  # token index -> what the marked HTML source has instead
    text_marks: dict[int, str] = {}  # token index -> what the marked text source has instead
    for slot, index in enumerate(sorted(shared_outputs(html, tokens, text_order, env))):
        output = OUTPUT_TOKEN.match(tokens[index])
        assert output is not None  # shared_outputs took only outputs
        open_, expr, close = output["open"], output["expr"], output["close"]
        if _tagged_link(index, matches, text_pieces):
            html_marks.update({index - 1: "", index + 1: ""})
            html_marks[index] = f"{{{{{open_} ({expr}) | tag_link | {KEPT}({slot}) {close}}}}}"
            text_marks.update({index - 1: f"{{{{ none | {REPLAYED}({slot}) }}}}", index: "", index + 1: ""})
        else:
            html_marks[index] = f"{{{{{open_} ({expr}) | {KEPT}({slot}) {close}}}}}"
            text_marks[index] = f"{{{{{open_} none | {REPLAYED}({slot}) {close}}}}}"

    html_out: list[str] = []
    last = 0
    for index, match in enumerate(matches):
        if index in html_marks:
            html_out += [html[last : match.start()], html_marks[index]]
            last = match.end()
    html_out.append(html[last:])
    text = "".join(p if isinstance(p, str) else text_marks.get(p, tokens[p]) for p in text_pieces)
    plain = "".join(p if isinstance(p, str) else tokens[p] for p in text_pieces)
    return Sources("".join(html_out), text, plain)


_LINK_OPEN, _LINK_CLOSE = "{% filter tag_link %}", "{% endfilter %}"


def _tagged_link(index: int, matches: list[re.Match[str]], text_pieces: list[str | int]) -> bool:
    """Whether output ``index`` is all there is of a ``tag_link`` filter block, in the HTML and in the text."""
    if not 0 < index < len(matches) - 1:
        return False
    before, output, after = matches[index - 1], matches[index], matches[index + 1]
    if before.group(0) != _LINK_OPEN or after.group(0) != _LINK_CLOSE:
        return False
    if before.end() != output.start() or output.end() != after.start():
        return False
    run = [index - 1, "", index, "", index + 1]
    return any(text_pieces[at : at + 5] == run for at, piece in enumerate(text_pieces) if piece == index - 1)


def shared_outputs(html: str, tokens: list[str], text_order: list[int], env: Any) -> set[int]:
    """Indices (in ``tokens``) of the printed values the text part can take from the HTML part.

    ``text_order``: the token indices as the text template has them. See the module docstring.
    """
    # html2text drops a linked image's URL, filter block and all; any other tag it drops or
    # moves (one in <head>…) may make the parts' control flow differ: then share nothing
    if _control_tags(tokens, text_order) != _control_tags(tokens, range(len(tokens))):
        return set()
    outputs = _output_tokens(tokens)
    verdicts = _certain_outputs(env.parse(html), env)
    if verdicts is None or len(verdicts) != len(outputs):
        return set()
    starts = [m.start() for m in JINJA_TOKEN.finditer(html)]
    for index, (_, lineno) in zip(outputs, verdicts, strict=True):
        first = html.count("\n", 0, starts[index]) + 1
        if not first <= lineno <= first + tokens[index].count("\n"):
            return set()  # the tokens and the syntax tree do not line up (a `}}` in a string): share nothing
    html_stacks = _stacks(tokens, range(len(tokens)))
    text_stacks = _stacks(tokens, text_order)
    if html_stacks is None or text_stacks is None:
        return set()
    in_text: dict[int, list[tuple[int, ...]]] = {}
    for index, stack in zip(text_order, text_stacks, strict=True):
        in_text.setdefault(index, []).append(stack)
    return {
        index
        for index, (certain, _) in zip(outputs, verdicts, strict=True)
        if certain and in_text.get(index) == [html_stacks[index]] and _inside_branches_only(html_stacks[index], tokens)
    }


def _control_tags(tokens: list[str], order: Iterable[int]) -> list[int]:
    """The ``{% … %}`` tags of ``order`` but filter blocks' (they bind no name and decide no branch)."""
    found = []
    for index in order:
        tag = TAG_WORD.match(tokens[index])
        if tag is not None and tag.group(1) not in ("filter", "endfilter"):
            found.append(index)
    return found


def _output_tokens(tokens: list[str]) -> list[int]:
    """Indices of the ``{{ … }}`` tokens Jinja sees as output (not inside ``{% raw %}``)."""
    found: list[int] = []
    raw = False
    for index, token in enumerate(tokens):
        tag = TAG_WORD.match(token)
        if tag is not None:
            raw = tag.group(1) == "raw" or (raw and tag.group(1) != "endraw")
        elif not raw and token.startswith("{{"):
            found.append(index)
    return found


def _stacks(tokens: list[str], order: Iterable[int]) -> list[tuple[int, ...]] | None:
    """For each token of ``order``: the block tags (branch by branch) it sits in; None when unbalanced."""
    stack: list[int] = []
    out: list[tuple[int, ...]] = []
    for index in order:
        out.append(tuple(stack))
        tag = TAG_WORD.match(tokens[index])
        if tag is None:
            continue
        word = tag.group(1)
        if word in BLOCK_TAGS or (word == "set" and "=" not in tag.group("rest")):
            stack.append(index)
        elif word in _MIDDLE:
            if not stack:
                return None
            stack[-1] = index  # another branch of the same tag
        elif word.startswith("end"):
            if not stack:
                return None
            stack.pop()
    return out if not stack else None


def _inside_branches_only(stack: tuple[int, ...], tokens: list[str]) -> bool:
    """Whether every tag around the token is an ``if``/``for``/``filter``/``with`` (or a branch of one)."""
    for index in stack:
        tag = TAG_WORD.match(tokens[index])
        if tag is None or not (tag.group(1) in _BRANCHING or tag.group(1) in _MIDDLE):
            return False
    return True


# -- which values are the same in both parts ------------------------------------------


def _certain_outputs(tree: nodes.Template, env: Any) -> list[tuple[bool, int]] | None:
    """For each printed expression of ``tree`` in source order: whether both parts compute the same value, and its line.

    None when the template has constructs this does not follow (``extends``, ``block``).
    """
    if any(True for _ in tree.find_all((nodes.Extends, nodes.Block))):
        return None
    tainted = set(_SPECIAL_NAMES)
    while True:
        verdicts: list[tuple[bool, int]] = []
        grown = _walk(tree.body, True, tainted, env, verdicts)
        if not grown:
            return verdicts
        tainted |= grown


def _walk(body: list[nodes.Node], certain: bool, tainted: set[str], env: Any, out: list[tuple[bool, int]]) -> set[str]:
    """Record a verdict per printed expression of ``body``; return names found to differ between the parts."""
    grown: set[str] = set()
    for node in body:
        grown |= _walk_node(node, certain, tainted, env, out)
    return grown - tainted


def _walk_node(node: nodes.Node, certain: bool, tainted: set[str], env: Any, out: list[tuple[bool, int]]) -> set[str]:
    same = lambda expr: expr is None or _same_value(expr, tainted, env)  # noqa: E731
    if isinstance(node, nodes.Output):
        for child in node.nodes:
            if not isinstance(child, nodes.TemplateData):
                out.append((certain and placed(child) and same(child), child.lineno))
        return set()
    if isinstance(node, nodes.If):
        inner = certain and same(node.test)
        grown = _walk(node.body, inner, tainted, env, out)
        for branch in node.elif_:
            inner = inner and same(branch.test)
            grown |= _walk(branch.body, inner, tainted, env, out)
        return grown | _walk(node.else_, inner, tainted, env, out)
    if isinstance(node, nodes.For):
        inner = certain and same(node.iter) and same(node.test)
        grown = set() if inner else _names(node.target)
        grown |= _walk(node.body, inner, tainted, env, out)
        return grown | _walk(node.else_, inner, tainted, env, out)
    if isinstance(node, nodes.Assign):
        return set() if certain and same(node.node) else _names(node.target)
    if isinstance(node, nodes.With):
        inner = certain and all(same(v) for v in node.values)
        grown = set() if inner else {n for t in node.targets for n in _names(t)}
        return grown | _walk(node.body, inner, tainted, env, out)
    if isinstance(node, nodes.FilterBlock):
        return _walk(node.body, certain, tainted, env, out)
    # a macro, call block, set block or import renders per part; its outputs are not shared
    grown = _names(node.target) if isinstance(node, nodes.AssignBlock) else set()
    if isinstance(node, nodes.Import):
        grown.add(node.target)
    if isinstance(node, nodes.Macro):
        grown.add(node.name)
    if isinstance(node, nodes.FromImport):
        grown |= {name[1] if isinstance(name, tuple) else name for name in node.names}
    for statement in node.iter_child_nodes():
        if isinstance(statement, nodes.Stmt):  # expressions print nothing
            grown |= _walk_node(statement, False, tainted, env, out)
    return grown


def _names(target: nodes.Node) -> set[str]:
    if isinstance(target, nodes.Name):
        return {target.name}
    if isinstance(target, nodes.NSRef):
        return {target.name}
    return {n.name for n in target.find_all(nodes.Name)} | {n.name for n in target.find_all(nodes.NSRef)}


def _same_value(expr: nodes.Node, tainted: set[str], env: Any) -> bool:
    """Whether ``expr`` evaluates to the same value in the HTML part and in the text part."""
    # `loop` itself changes as the loop runs (the HTML part's is done when the text part prints):
    # only its attributes, read at the time, are values
    loops = sum(1 for n in itertools.chain([expr], expr.find_all(nodes.Name)) if _is_loop(n))
    if loops > sum(1 for g in expr.find_all(nodes.Getattr) if _is_loop(g.node)):
        return False
    for node in itertools.chain([expr], expr.find_all(nodes.Node)):
        if isinstance(node, (nodes.Call, nodes.MarkSafe, nodes.MarkSafeIfAutoescape, nodes.EvalContextModifier)):
            return False
        if isinstance(node, nodes.Name) and node.name in tainted:
            return False
        if isinstance(node, nodes.Filter) and not _pure_filter(node.name, env):
            return False
    return True


def _is_loop(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "loop"


def _pure_filter(name: str, env: Any) -> bool:
    func = env.filters.get(name)
    if func is None or name in _MARKUP_FILTERS:
        return False
    original = getattr(func, "__wrapped__", func)
    return original in _TAILOR_FILTERS or _PassArg.from_obj(original) in (None, _PassArg.environment)
