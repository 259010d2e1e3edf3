"""The one sandboxed Jinja environment family used for templates and rule conditions.

Marketers' templates and rule conditions are data, not code: they run in Jinja's
``ImmutableSandboxedEnvironment``, which blocks attribute escapes and mutation. That
sandbox does not bound *resources*: ``'x' * 10**7``, ``'%999999999s' % 'x'``, ``~``
doubling in a loop, ``center(10**9)`` or two nested ``range(100000)`` loops all run
happily and hold a worker for minutes or take gigabytes. :class:`CappedSandbox` adds
the missing bounds, as extension points in the style of Jinja's own ``sandbox.py``:

* **Size caps** — every operator, filter and string method that can allocate more than
  its inputs (``*``, ``**``, ``+``, ``%``, ``~``, ``center``, ``indent``, ``format``,
  ``tojson``, ``slice``, ``batch``, ``lipsum``, ``wordwrap``, ``truncate``, ``replace``,
  ``join``, ``str.center/ljust/rjust/zfill/expandtabs/replace/join/translate/format``)
  checks the size it would produce *before* producing it (:data:`MAX_OPERATOR_RESULT`).
  Integer ``*`` and ``**`` weigh their operands' bit lengths first (:data:`MAX_INT_BITS`):
  one big-int operation is a single C call that no deadline check can interrupt.
* **Every filter and test is guarded** — not only those with size arguments: each call
  checks the deadline first, and a result that outgrew its input past the cap is
  refused (``forceescape``, ``urlize`` and tailor's own filters included).
* **Containers are weighed** — lists hold references, so ``[l, l, l]`` nested a few
  levels is small in memory and gigabytes once printed: list/dict/tuple literals and
  ``dict()``/``namespace()`` results may print to at most :data:`MAX_OUTPUT_CHARS`.
* **An allocation budget per render** — what those operations produce, and every
  buffer Jinja joins (macro bodies, ``{% set %}`` blocks, filter blocks), is charged
  to :class:`RenderLimits`; a render that has produced :data:`MAX_RENDER_CHARS` in
  total stops, so a loop of capped operations cannot add up to gigabytes either.
* **A wall-clock deadline per render** — threads cannot be killed and signals only
  reach the main thread, so the check is cooperative: the generated code
  (:class:`DeadlineCodeGenerator`) checks the deadline on loop iterations, the sandbox
  on calls (the clock is read every :data:`CLOCK_EVERY` filter calls and iterations). A
  template cannot run long without doing one of the two.

Every breach raises :class:`ResourceLimitError` (the deadline: :class:`RenderTimeLimit`);
``Tailor.render`` turns it into a ``render-limit`` refusal (``tailor.email.RenderLimit``).
"""

from __future__ import annotations

import contextvars
import functools
import operator
import re
import time
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from string import Formatter
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.filters import do_default
from jinja2.runtime import Namespace
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import generate_lorem_ipsum

#: Largest string/list an operator, filter or string method may produce.
MAX_OPERATOR_RESULT = 100_000
#: Largest exponent allowed in ``**``; 2 ** 10_000 is already a 3,000-digit number.
MAX_EXPONENT = 1_000
#: Largest integer ``*``, ``**`` or a filter may produce (about 30,000 digits), estimated from the
#: operands' bit lengths before computing: ``((9 ** 1000) ** 1000) ** 3`` is one C-level
#: operation of seconds to minutes that no deadline check can interrupt.
MAX_INT_BITS = 100_000
#: Largest rendered output accepted (Braze Connected Content takes at most 1 MB); also
#: the largest buffer a macro, ``{% set %}`` block or filter block may join.
MAX_OUTPUT_CHARS = 1_000_000
#: Characters the capped operations and buffer joins of one render may produce in total.
MAX_RENDER_CHARS = 20_000_000
#: Wall-clock limit of one render when the caller sets none (``render_timeout_ms``).
DEFAULT_RENDER_TIMEOUT_MS = 1_000
#: Largest ``indent`` a ``tojson``/``indent`` may use; paragraphs and words ``lipsum`` may make.
MAX_INDENT = 64
MAX_LIPSUM_WORDS = 20_000
#: Deepest list/dict nesting a template may build (and the size check will walk).
MAX_NESTING = 50
#: Filter calls and loop iterations between two reads of the clock. Each one is bounded by
#: the caps, so the deadline is still met within a few of them; reading the clock on every
#: one cost more than the filters themselves on a loaded virtual machine (~0.3-0.5 µs a read).
CLOCK_EVERY = 8


class ResourceLimitError(SecurityError):
    """A template or condition tried to allocate or run more than the limits allow."""


class RenderTimeLimit(ResourceLimitError):
    """The render ran past its wall-clock deadline."""


@dataclass
class RenderLimits:
    """The deadline and allocation budget of one render (shared by all its parts)."""

    timeout_ms: int
    #: monotonic time the render must finish by; None until marketer code first runs
    deadline: float | None = None
    chars_left: int = MAX_RENDER_CHARS
    #: filter calls left before the next one reads the clock (:data:`CLOCK_EVERY`)
    unclocked: int = 0

    def start(self) -> None:
        if self.deadline is None:
            self.deadline = time.monotonic() + self.timeout_ms / 1000.0

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise RenderTimeLimit(f"the render ran longer than the {self.timeout_ms} ms limit (render_timeout_ms)")

    def charge(self, chars: int) -> None:
        self.chars_left -= chars
        if self.chars_left < 0:
            raise ResourceLimitError(f"the render produced more than {MAX_RENDER_CHARS:,} characters in total")


_limits: contextvars.ContextVar[RenderLimits | None] = contextvars.ContextVar("tailor_render_limits", default=None)


class render_limits:  # a context manager class: cheaper than @contextmanager on every part of every render
    """Run the block under one render's deadline and budget: ``with render_limits(ms) as limits:``.

    Nested scopes join the outer one: ``Tailor.render`` opens the scope with the
    configured limit (``start=False``: the clock starts when the first rule condition
    or template part runs, so loading the store or the models is not counted) around
    conditions and every part of the email; the lower layers (one part's render, one
    condition) open it too, so they are never unbounded. A context variable, not a
    thread-local alone: each server thread, Dask worker thread or asyncio task has its own.
    """

    __slots__ = ("timeout_ms", "start", "token")

    def __init__(self, timeout_ms: int | None = None, *, start: bool = True):
        self.timeout_ms = DEFAULT_RENDER_TIMEOUT_MS if timeout_ms is None else timeout_ms
        self.start = start
        self.token: contextvars.Token[RenderLimits | None] | None = None

    def __enter__(self) -> RenderLimits:
        limits = _limits.get()
        if limits is None:
            limits = RenderLimits(self.timeout_ms)
            self.token = _limits.set(limits)
        if self.start:
            limits.start()
        return limits

    def __exit__(self, *exc_info: object) -> None:
        if self.token is not None:
            _limits.reset(self.token)
            self.token = None


def running_limits() -> RenderLimits | None:
    """The enclosing render's limits once their clock runs, else None.

    Under running limits a nested :class:`render_limits` changes nothing, so a caller may skip it.
    """
    limits = _limits.get()
    return limits if limits is not None and limits.deadline is not None else None


def check_deadline() -> None:
    limits = _limits.get()
    if limits is not None:
        limits.check()


def _charge(result: Any) -> Any:
    if isinstance(result, (str, bytes, list, tuple)):
        limits = _limits.get()
        if limits is not None:
            limits.charge(len(result))
    return result


def _weight(value: Any, limit: int = MAX_OPERATOR_RESULT, depth: int = 0) -> int:
    """About how many characters ``str(value)`` makes, counted no further than ``limit``.

    Lists hold references: ``[big] * 100`` or ``[l, l, l]`` nested five deep is small
    in memory but gigabytes once printed, so containers are weighed by their contents.
    """
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, Namespace):
        value = value._Namespace__attrs  # what its repr prints
    if isinstance(value, (list, tuple, dict)):
        if depth > MAX_NESTING:
            return limit + 1
        total = len(value)
        for item in value.items() if isinstance(value, dict) else value:
            total += _weight(item, limit - total, depth + 1)
            if total > limit:
                break
        return total
    return 1


def sized_container(value: Any, what: str = "a list or dict") -> Any:
    """A container a template built (literal, call result) may print to at most :data:`MAX_OUTPUT_CHARS`."""
    _refuse_above(_weight(value, MAX_OUTPUT_CHARS), what, MAX_OUTPUT_CHARS)
    return value


def _refuse_above(size: int, what: str, limit: int = MAX_OPERATOR_RESULT) -> None:
    if size > limit:
        raise ResourceLimitError(f"{what} would produce more than {limit:,} characters")


# -- operators -----------------------------------------------------------------------


def _capped_mul(left: Any, right: Any) -> Any:
    if type(left) is int and type(right) is int:  # bool is an int too, but tiny: skip the check
        _refuse_int_bits(left.bit_length() + right.bit_length(), "multiplication")
    for seq, count in ((left, right), (right, left)):
        sized = isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int)
        if sized and _weight(seq) * max(count, 0) > MAX_OPERATOR_RESULT:
            raise ResourceLimitError(f"repetition would produce more than {MAX_OPERATOR_RESULT:,} items")
    try:
        return _charge(operator.mul(left, right))
    except OverflowError:  # a 2,000-bit int times a float: a limit, not a broken template
        raise ResourceLimitError("* would produce a number too large to represent") from None


def _refuse_int_bits(bits: int, what: str) -> None:
    # one C-level big-int operation never reaches a deadline check: refuse it before it runs
    if bits > MAX_INT_BITS:
        raise ResourceLimitError(f"{what} would produce an integer of more than {MAX_INT_BITS:,} bits")


def _capped_pow(left: Any, right: Any) -> Any:
    if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
        raise ResourceLimitError(f"exponent {right!r} is above the cap of {MAX_EXPONENT}")
    if isinstance(left, int) and isinstance(right, int) and right > 0:
        _refuse_int_bits(left.bit_length() * right, "**")
    try:
        return operator.pow(left, right)
    except OverflowError:  # float ** float past 1.8e308: a limit, not a broken template
        raise ResourceLimitError(f"** would produce a number too large to represent ({left!r} ** {right!r})") from None


def _capped_add(left: Any, right: Any) -> Any:
    if not isinstance(left, (int, float)):
        _refuse_above(_weight(left) + _weight(right), "concatenation")
    return _charge(operator.add(left, right))


#: one ``%`` conversion: ``%(name)-08.3f``; width and precision may be ``*`` (taken from the args)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?[a-zA-Z%]")


def _format_args(args: Any) -> list[Any]:
    if isinstance(args, dict):
        return list(args.values())
    if isinstance(args, tuple):
        return list(args)
    return [args]


def check_percent_format(fmt: str, args: Any) -> None:
    """Refuse ``fmt % args`` before Python allocates it: widths, precisions and args count."""
    values = _format_args(args)
    size = len(fmt) + sum(_weight(v) for v in values)
    star = [v for v in values if isinstance(v, int)]
    for spec in _PERCENT_SPEC.finditer(fmt):
        for number in (spec.group("width"), spec.group("precision")):
            if number == "*":
                size += max(star, default=0)
            elif number:
                size += int(number)
    _refuse_above(size, "% formatting")


def check_str_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse ``fmt.format(...)`` whose widths/precisions would allocate past the cap."""
    values = [*args, *kwargs.values()]
    size = len(fmt) + sum(_weight(v) for v in values)
    numbers = [v for v in values if isinstance(v, int)]
    try:
        fields = list(Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:  # nested field: the width comes from the arguments
            size += max(numbers, default=0)
        size += sum(int(n) for n in re.findall(r"\d+", spec))
    _refuse_above(size, "str.format")


def _capped_mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        check_percent_format(left, right)
    return _charge(operator.mod(left, right))


# -- filters and globals -------------------------------------------------------------


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _int_arg(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _check_center(value: Any, *args: Any, **kwargs: Any) -> None:
    _refuse_above(_int_arg(_arg(args, kwargs, 0, "width", 80)), "center")


def _check_indent(value: Any, *args: Any, **kwargs: Any) -> None:
    width = _arg(args, kwargs, 0, "width", 4)
    per_line = len(width) if isinstance(width, str) else _int_arg(width)
    lines = str(value).count("\n") + 1
    _refuse_above(len(str(value)) + lines * per_line, "indent")


def _check_format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent_format(str(value), kwargs or args)


def _check_tojson(value: Any, *args: Any, **kwargs: Any) -> None:
    indent = _arg(args, kwargs, 0, "indent", None)
    if isinstance(indent, str):
        indent = len(indent)
    if isinstance(indent, int) and indent > MAX_INDENT:
        raise ResourceLimitError(f"tojson indent {indent} is above the cap of {MAX_INDENT}")


def _check_count(name: str, index: int) -> Callable[..., None]:
    def check(value: Any, *args: Any, **kwargs: Any) -> None:
        count = _int_arg(_arg(args, kwargs, index, name, 0))
        if count > MAX_OPERATOR_RESULT:
            raise ResourceLimitError(f"{name}={count} is above the cap of {MAX_OPERATOR_RESULT:,}")

    return check


def _check_wordwrap(value: Any, *args: Any, **kwargs: Any) -> None:
    _refuse_above(_int_arg(_arg(args, kwargs, 0, "width", 79)), "wordwrap")
    wrapstring = _arg(args, kwargs, 2, "wrapstring", None)
    if isinstance(wrapstring, str):
        # at worst one wrap string per character of the input
        _refuse_above(len(str(value)) * (len(wrapstring) + 1), "wordwrap")


def _check_truncate(value: Any, *args: Any, **kwargs: Any) -> None:
    _refuse_above(_int_arg(_arg(args, kwargs, 0, "length", 255)), "truncate")
    _refuse_above(_weight(_arg(args, kwargs, 2, "end", "...")), "truncate")


def _replaced_size(text: str, old: str, new: str, count: Any) -> int:
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def _check_replace(value: Any, *args: Any, **kwargs: Any) -> None:
    old, new = str(_arg(args, kwargs, 0, "old", "")), str(_arg(args, kwargs, 1, "new", ""))
    _refuse_above(_replaced_size(str(value), old, new, _arg(args, kwargs, 2, "count", None)), "replace")


def _check_join(value: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(value, (list, tuple)):
        separator = _arg(args, kwargs, 0, "d", "")
        _refuse_above(_weight(value) + len(str(separator)) * max(len(value) - 1, 0), "join")


def _materialized(value: Any) -> Any:
    """Iterators (``range(…)|map(…)``) become lists, so a check can measure them."""
    if not isinstance(value, (Iterator, range)):
        return value
    items = []
    for item in value:
        items.append(item)
        if len(items) > MAX_OPERATOR_RESULT:
            raise ResourceLimitError(f"a sequence of more than {MAX_OPERATOR_RESULT:,} items")
    return items


def guarded(original: Callable[..., Any], name: str, check: Callable[..., None] | None = None) -> Callable[..., Any]:
    """``original`` (a filter or test) under the render's deadline, caps and budget.

    Before the call: the deadline, and ``check(value, *args, **kwargs)`` when the filter
    has size arguments to weigh first. After it: a string or list result is charged to
    the budget, and refused when it passed :data:`MAX_OPERATOR_RESULT` *and* outgrew its
    input — ``forceescape`` makes five characters of one ``&`` and ``urlize`` adds markup,
    so a chain of them would grow without bound, while ``upper`` of a long set block only
    copies it (the budget bounds a chain of copies). ``functools.wraps`` keeps Jinja's
    ``pass_context``/``pass_eval_context`` marker, so the wrapper receives the same
    leading argument the original does.
    """
    passes = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0

    monotonic, get_limits, sized = time.monotonic, _limits.get, (str, list, tuple, bytes)

    @functools.wraps(original)
    def guarded_call(*args: Any, **kwargs: Any) -> Any:
        # inlined RenderLimits.check/charge: this runs on every filter call of every render
        limits = get_limits()  # None at compile time (constant folding): the caps still hold
        if limits is not None:
            deadline = limits.deadline
            if deadline is not None:
                if limits.unclocked:
                    limits.unclocked -= 1
                else:
                    limits.unclocked = CLOCK_EVERY - 1
                    if monotonic() > deadline:
                        limits.check()
        if check is not None:
            args = (*args[:passes], _materialized(args[passes]), *args[passes + 1 :])
            check(*args[passes:], **kwargs)
        result = original(*args, **kwargs)
        if isinstance(result, sized):
            size = len(result)
            if size > MAX_OPERATOR_RESULT and len(args) > passes and size > _weight(args[passes], size):
                raise ResourceLimitError(
                    f"the filter {name} would produce more than {MAX_OPERATOR_RESULT:,} characters"
                )
            if limits is not None:
                limits.chars_left -= size
                if limits.chars_left < 0:
                    limits.charge(0)
        elif type(result) is int and result.bit_length() > MAX_INT_BITS:  # ('f' * 99999)|int(base=16)
            _refuse_int_bits(result.bit_length(), f"the filter {name}")
        return result

    guarded_call.tailor_guarded = True  # type: ignore[attr-defined]
    return guarded_call


#: Jinja's ``default``/``d`` returns its value or its argument, both already made (and
#: charged) elsewhere, in constant time: the one filter left unwrapped, because it is
#: also the most called (60 of 112 filter calls in the newsletter) and a wrapper costs a
#: Python frame per call. By identity, so a replacement under the same name is guarded.
UNGUARDED: frozenset[Callable[..., Any]] = frozenset([do_default])


class GuardedCallables(dict[str, Any]):  # Any: Jinja types these dicts by its own alias
    """An environment's ``filters`` or ``tests``: every callable guarded as it is added.

    Wrapped once, when added (tailor's own filters are added after the sandbox is
    built), so a render pays no lookup cost: compiled templates fetch each filter once.
    """

    def __init__(self, items: dict[str, Any], checks: dict[str, Callable[..., None]]) -> None:
        super().__init__()
        self.checks = checks
        self.update(items)

    def __setitem__(self, name: str, func: Callable[..., Any]) -> None:
        if not getattr(func, "tailor_guarded", False) and func not in UNGUARDED:
            func = guarded(func, name, self.checks.get(name))
        super().__setitem__(name, func)

    def update(self, *args: Any, **kwargs: Any) -> None:  # dict.update bypasses __setitem__
        for name, func in dict(*args, **kwargs).items():
            self[name] = func

    def setdefault(self, name: str, func: Any = None, /) -> Any:
        if name not in self:
            self[name] = func
        return self[name]


#: filter -> check of its size arguments, run before the filter
FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _check_center,
    "indent": _check_indent,
    "format": _check_format,
    "tojson": _check_tojson,
    "slice": _check_count("slices", 0),
    "batch": _check_count("linecount", 0),
    "wordwrap": _check_wordwrap,
    "truncate": _check_truncate,
    "replace": _check_replace,
    "join": _check_join,
    "list": lambda value, *args, **kwargs: None,  # materializing is the check
}


def capped_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja's ``lipsum`` global (same argument names) with the number of words it may generate capped."""
    if _int_arg(n) * _largest_int(min, max) > MAX_LIPSUM_WORDS:
        raise ResourceLimitError(f"lipsum would generate more than {MAX_LIPSUM_WORDS:,} words")
    return _charge(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _largest_int(*values: Any) -> int:
    # a module function: inside capped_lipsum the name ``max`` is Jinja's argument
    return max((_int_arg(v) for v in values), default=0)


# -- string methods reached through attributes ---------------------------------------


def _check_str_method(name: str, text: str | bytes, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name in ("center", "ljust", "rjust", "zfill"):
        _refuse_above(_int_arg(_arg(args, kwargs, 0, "width", 0)), f"str.{name}")
    elif name == "expandtabs":
        tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
        _refuse_above(len(text) + tabs * _int_arg(_arg(args, kwargs, 0, "tabsize", 8)), "str.expandtabs")
    elif name == "replace" and isinstance(text, str):
        old, new = _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", "")
        if isinstance(old, str) and isinstance(new, str):
            _refuse_above(_replaced_size(text, old, new, _arg(args, kwargs, 2, "count", -1)), "str.replace")
    elif name == "join" and args:
        items = args[0]
        if isinstance(items, (list, tuple)):
            _refuse_above(_weight(items) + len(text) * max(len(items) - 1, 0), "str.join")
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((_weight(v) for v in args[0].values()), default=1)
        _refuse_above(len(text) * longest, "str.translate")


#: what Jinja's ``wrap_str_format`` looks at (a bound ``str.format``/``format_map``); other values pass
_BOUND_METHODS = (types.MethodType, types.BuiltinMethodType)

_SIZED_STR_METHODS = frozenset(["center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate"])


# -- the generated code --------------------------------------------------------------


class DeadlineCodeGenerator(CodeGenerator):
    """Jinja's code generator with two hooks: loops check the deadline, ``~`` is capped.

    Loops and calls are the only ways a template runs long (Jinja has no ``while``);
    calls are checked by :meth:`CappedSandbox.call`, every loop iteration here.
    """

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # Jinja refuses custom node types: wrap the iterable in a call of an environment method
        original = node.iter
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("deadline_iter", lineno=original.lineno),
            [original],
            [],
            None,
            None,
            lineno=original.lineno,
        )
        try:
            super().visit_For(node, frame)
        finally:
            node.iter = original

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        if isinstance(node.node, nodes.EnvironmentAttribute) and node.node.name == "deadline_iter":
            # the wrapper visit_For added (templates cannot write EnvironmentAttribute nodes):
            # called directly, not through the sandbox's call(), to keep loops cheap
            self.write("environment.deadline_iter(")
            self.visit(node.args[0], frame)
            self.write(")")
            return
        super().visit_Call(node, frame, forward_caller=forward_caller)

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.sized_container(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.sized_container(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # an assignment target: `{% for a, b in … %}`
            super().visit_Tuple(node, frame)
            return
        self.write("environment.sized_container(")
        super().visit_Tuple(node, frame)
        self.write(")")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # Jinja's visit_Concat, with the operands measured before they are joined
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"{func_name}(environment.concat_operands((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


def _deadline_iter(iterable: Iterable[Any], limits: RenderLimits) -> Iterator[Any]:
    limits.start()
    deadline = limits.deadline or 0.0
    monotonic = time.monotonic
    unclocked = 0  # iterations left before the next clock read (CLOCK_EVERY)
    for item in iterable:
        if unclocked:
            unclocked -= 1
        else:
            unclocked = CLOCK_EVERY - 1
            if monotonic() > deadline:
                limits.check()
        yield item


def _capped_join(buffer: Iterable[str]) -> str:
    """``environment.concat``: joins of macro bodies, set/filter blocks, measured first."""
    parts = buffer if isinstance(buffer, list) else list(buffer)
    size = sum(map(len, parts))
    # _refuse_above and RenderLimits.charge, inlined: this joins every macro call's body
    if size > MAX_OUTPUT_CHARS:
        _refuse_above(size, "a macro, set block or filter block", MAX_OUTPUT_CHARS)
    limits = _limits.get()
    if limits is not None:
        limits.chars_left -= size
        if limits.chars_left < 0:
            limits.charge(0)
    return "".join(parts)


class CappedSandbox(ImmutableSandboxedEnvironment):
    """Immutable sandbox with size caps, an allocation budget and a deadline per render."""

    code_generator_class = DeadlineCodeGenerator
    intercepted_binops = frozenset(["*", "**", "+", "%"])
    concat = staticmethod(_capped_join)

    _capped = {"*": _capped_mul, "**": _capped_pow, "+": _capped_add, "%": _capped_mod}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: (type, attribute name) pairs Jinja's rules found safe to read (see :meth:`is_safe_attribute`)
        self.safe_attributes: set[tuple[type, str]] = set()
        super().__init__(*args, **kwargs)
        self.filters = GuardedCallables(self.filters, FILTER_CHECKS)
        self.tests = GuardedCallables(self.tests, {})
        self.globals["lipsum"] = capped_lipsum

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Jinja's verdict, remembered per (type, attribute name).

        Jinja's rules (``is_internal_attribute``, ``modifies_known_mutable``) read only the
        attribute's name and what the object is an instance of, so the verdict holds for
        every object of the type (an object whose ``__class__`` is not its type is always
        asked). The page's ``__page.lang``, a macro module's ``m.greeting`` or ``now.year``
        is read many times per email; Jinja's checks cost a dozen ``isinstance`` each time.
        """
        kind = type(obj)
        if (kind, attr) in self.safe_attributes:
            return True
        safe = super().is_safe_attribute(obj, attr, value)
        if safe and obj.__class__ is kind:
            self.safe_attributes.add((kind, attr))
        return safe

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data before methods: `order.items` is the order's items, not dict.items.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        if (type(obj), attribute) not in self.safe_attributes:
            return super().getattr(obj, attribute)
        # Jinja's getattr for an attribute known to be safe (is_safe_attribute), without its checks
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                return self.undefined(obj=obj, name=attribute)
        if isinstance(value, _BOUND_METHODS):  # the only values wrap_str_format may wrap
            fmt = self.wrap_str_format(value)
            if fmt is not None:
                return fmt
        return value

    def getitem(self, obj: Any, argument: Any) -> Any:
        kind = type(obj)
        # `order['items']` on a dict without that key is missing data, not dict.items.
        if kind is dict:
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        if kind is list or kind is tuple:  # `row[0]`: Jinja's getitem tries the same first
            try:
                return obj[argument]
            except (TypeError, LookupError):
                pass
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        capped = self._capped.get(operator_name)
        if capped is not None:
            return capped(left, right)
        return super().call_binop(context, operator_name, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        check_deadline()
        owner = getattr(obj, "__self__", None)
        name = getattr(obj, "__name__", "")
        if isinstance(owner, (str, bytes)) and name in _SIZED_STR_METHODS:
            _check_str_method(name, owner, args, kwargs)
            return _charge(super().call(context, obj, *args, **kwargs))
        result = super().call(context, obj, *args, **kwargs)
        if isinstance(result, (list, tuple, dict, Namespace)):  # dict(a=l, b=l), namespace(…)
            sized_container(result)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__
        is_format_map = value.__name__ == "format_map"

        @functools.wraps(wrapped)
        def capped(*args: Any, **kwargs: Any) -> str:
            if is_format_map and args and isinstance(args[0], dict):
                check_str_format(fmt, (), args[0])
            else:
                check_str_format(fmt, args, kwargs)
            return _charge(wrapped(*args, **kwargs))

        return capped

    sized_container = staticmethod(sized_container)

    @staticmethod
    def deadline_iter(iterable: Any) -> Any:
        limits = _limits.get()
        if limits is None:
            return iterable
        return _deadline_iter(iterable, limits)

    @staticmethod
    def concat_operands(operands: tuple[Any, ...]) -> tuple[Any, ...]:
        """``a ~ b``: refused before joining when the result would pass the cap."""
        size = sum(_weight(op) for op in operands)
        _refuse_above(size, "~ concatenation")
        limits = _limits.get()
        if limits is not None:
            limits.charge(size)
        return operands
