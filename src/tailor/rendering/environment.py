"""The Jinja environments templates render in: the capped sandbox, plus filters, undefined
handling, and a loader that never reads outside ``templates/``."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, FileSystemLoader, TemplateNotFound, Undefined, nodes
from jinja2.compiler import Frame, optimizeconst

from tailor.rendering.fallbacks import record_fallback
from tailor.rendering.filters import FILTERS
from tailor.rendering.source import confined_path, outside_message
from tailor.sandbox import (
    MAX_OUTPUT_CHARS,
    CappedSandbox,
    DeadlineCodeGenerator,
    ResourceLimitError,
    render_limits,
    running_limits,
)

__all__ = ["MAX_OUTPUT_CHARS", "OutputTooLarge", "make_environment", "render_capped", "with_globals"]


class RecordingUndefined(ChainableUndefined):
    """Missing data renders as nothing and is recorded as a fallback.

    ``profile.first_name | default('there')`` never records: ``default`` sees the
    undefined and replaces it, which is the marketer's declared fallback. Printing or
    looping over missing data records it, so QA can see which names were missing.
    """

    __slots__ = ()

    def _record(self) -> None:
        record_fallback(
            "undefined-variable",
            f"{self._undefined_name or 'a value'} is not defined; rendered empty",
            variable=self._undefined_name,
        )

    def __str__(self) -> str:
        self._record()
        return ""

    def __html__(self) -> str:
        self._record()
        return ""

    def __iter__(self):
        self._record()
        return iter(())

    def __len__(self) -> int:
        return 0


def shown(value: Any, where: str = "") -> Any:
    """What ``{{ … }}`` prints: a missing or null value is nothing (never "None"), and recorded.

    The compiler ends every ``{{ … }}`` of the marketer's files with ``| shown("file:line")``
    so the fallback names the file and line that printed it; Jinja's ``finalize`` calls it
    without a place for what the compiler did not write (macros imported at render time).
    """
    if value is None:
        at = f"{where}: " if where else ""
        record_fallback("null-value", f"{at}a null value rendered as nothing", at=where or None)
        return ""
    if isinstance(value, Undefined):
        name = getattr(value, "_undefined_name", None)
        at = f"{where}: " if where else ""
        record_fallback(
            "undefined-variable",
            f"{at}{name or 'a value'} is not defined; rendered empty",
            variable=name,
            at=where or None,
        )
        return ""
    return value


def placed(node: nodes.Node) -> bool:
    """Whether ``node`` is the ``(x) | shown("file:line")`` the compiler wrote around a printed value."""
    return isinstance(node, nodes.Filter) and node.name == "shown" and node.node is not None


class ShownCodeGenerator(DeadlineCodeGenerator):
    """The sandbox's code generator, with the compiler's ``| shown("file:line")`` written inline.

    Every printed value of the marketer's files goes through :func:`shown` (about 60 per
    email), and nearly all of them are strings that it returns unchanged. The generated
    code tests for that itself — ``(v if type(v := x) is str else shown(v, "file:line"))``
    — so a string costs no call, and ``None``, undefined, numbers and markup go through
    the filter as before. Such an output also skips Jinja's ``finalize`` (the same
    :func:`shown`, for values the compiler did not place): the filter already ran.
    ``shown`` is constant-time, so no deadline check is lost that matters: loops and the
    other filters and calls still check it.
    """

    @optimizeconst
    def visit_Filter(self, node: nodes.Filter, frame: Frame) -> None:
        value = node.node
        if not placed(node) or value is None or self.environment.is_async:
            super().visit_Filter(node, frame)
            return
        self.write("(t_shown if type(t_shown := ")
        self.visit(value, frame)
        self.write(f") is str else {self.filters[node.name]}(t_shown")
        self.signature(node, frame)
        self.write("))")

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_pre(node, frame, finalize._replace(src=None) if placed(node) else finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize._replace(src=None) if placed(node) else finalize)


class TemplateSandbox(CappedSandbox):
    """The capped sandbox templates render in: printed values through :class:`ShownCodeGenerator`."""

    code_generator_class = ShownCodeGenerator


class ConfinedLoader(FileSystemLoader):
    """The runtime loader (``import``/``extends``): refuses files that resolve outside ``templates/``.

    Jinja's own loader refuses ``..`` but follows symlinks wherever they point.
    """

    def __init__(self, root: Path):
        super().__init__(str(root))
        self.root = root

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        if confined_path(self.root, template.lstrip("/")) is None:
            raise TemplateNotFound(outside_message(template))
        return super().get_source(environment, template)


class TextPartLoader(ConfinedLoader):
    """Loads macro files for the plain-text part with their HTML already turned into text.

    A macro that emits ``<strong>New</strong>`` for the HTML part must emit ``New``
    for the text part; converting the macro file once at load time does that.
    """

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        from tailor.rendering.text import html_template_to_text_template

        source, filename, uptodate = super().get_source(environment, template)
        if "<" in source:
            source = html_template_to_text_template(source).rstrip("\n")
        return source, filename, uptodate


def make_environment(templates_dir: Path | None, *, autoescape: bool) -> TemplateSandbox:
    """A sandboxed environment; ``templates_dir`` backs runtime ``import`` of macro files."""
    loader_class = ConfinedLoader if autoescape else TextPartLoader
    env = TemplateSandbox(
        loader=loader_class(templates_dir) if templates_dir else None,
        autoescape=autoescape,
        undefined=RecordingUndefined,
        # in the text part a newline after a block tag is a line break a reader sees
        trim_blocks=autoescape,
        lstrip_blocks=autoescape,
        keep_trailing_newline=False,
        auto_reload=False,
        finalize=shown,
    )
    env.filters.update(FILTERS)
    env.filters["shown"] = shown
    env.globals.pop("cycler", None)
    env.globals.pop("joiner", None)
    return env


class OutputTooLarge(ResourceLimitError):
    """A render produced more than :data:`MAX_OUTPUT_CHARS`."""


def render_capped(
    template: Any, context: dict[str, Any], limit: int = MAX_OUTPUT_CHARS, *, with_globals: bool = False
) -> str:
    """Render ``template`` but stop soon after the output passes ``limit`` characters.

    Chunks are joined 64 at a time (C speed) and the size checked per batch, so a
    runaway loop stops early without paying a Python-level check on every chunk. The
    render runs under the deadline and budget of the enclosing render (or its own).

    ``with_globals``: ``context`` already holds the environment's globals under its own
    names (:func:`with_globals`), so it is used as it is — Jinja would otherwise copy the
    globals' chain map and the context into a new dict for every part of every email.
    """
    if running_limits() is not None:  # the email's render opened them (a part of it: skip the no-op scope)
        return _joined(template, _new_context(template, context, with_globals), limit)
    with render_limits():
        return _joined(template, _new_context(template, context, with_globals), limit)


def _joined(template: Any, context: Any, limit: int) -> str:
    """The output of ``template`` rendered on Jinja ``context``, stopped soon after ``limit`` characters."""
    parts: list[str] = []
    size = 0
    chunks = template.root_render_func(context)
    try:
        while True:
            batch = "".join(islice(chunks, 64))
            if not batch:
                break
            size += len(batch)
            if size > limit:
                raise OutputTooLarge(f"output exceeds {limit:,} characters")
            parts.append(batch)
    except OutputTooLarge:
        raise
    except Exception:
        # report errors exactly as Template.render would (template-relative tracebacks)
        template.environment.handle_exception()
    return "".join(parts)


def _new_context(template: Any, context: dict[str, Any], with_globals: bool) -> Any:
    """``template.new_context(context, shared=with_globals)``, made directly when that is the same.

    Jinja's context keeps the names of the template's globals for one use: an ``{% import %}``
    re-runs the macro file when the importer has globals the file lacks. A template with no
    globals of its own (what the compiler makes: ``make_globals(None)``) has only the
    environment's, which every file loaded from that environment has too, so the set can be
    left empty — building it walked the globals' chain map for every part of every email.
    """
    globals_ = template.globals
    if with_globals and type(globals_) is ChainMap and not globals_.maps[0]:
        env = template.environment
        return env.context_class(env, context, template.name, template.blocks)
    return template.new_context(context, shared=with_globals)


def with_globals(template: Any, context: Mapping[str, Any]) -> dict[str, Any]:
    """``context`` over ``template``'s globals, as Jinja's ``new_context`` would make it, for
    ``render_capped(..., with_globals=True)`` of every part rendered from the same environment."""
    return {**template.globals, **context}
