"""The per-recipient pipeline (Jinja → MJML → inline, every time).

tailor never renders this way in production; it exists as the reference that the
compile-once output is tested against, and as the baseline of ``benchmarks/render.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from tailor.rendering.compiler import Compiler, _tag_links
from tailor.rendering.environment import render_capped
from tailor.rendering.formatting import Formatting, formatting_as
from tailor.rendering.inline import inline_css
from tailor.rendering.mjml import compile_mjml, fix_for_mrml
from tailor.rendering.source import Expander, read_template


def expand_for(compiler: Compiler, name: str, blocks: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The template's source with includes resolved and each slot holding only its chosen block."""
    template, problems = read_template(compiler.path_of(name), name, compiler.templates_dir)
    if template is None:
        raise ValueError(problems)

    def only_the_chosen_block(slot: str) -> tuple[list[str], str | None]:
        # the chosen block stands in as the slot's default; unchosen slots keep theirs
        if slot in blocks:
            return [], blocks[slot]
        return [], compiler.slot_resolver(slot)[1] if compiler.slot_resolver else None

    expander = Expander(compiler.templates_dir, only_the_chosen_block, mjml=template.kind == "mjml")
    expanded = expander.expand(template)
    return expanded.source, template.settings


def render_naive(
    compiler: Compiler,
    name: str,
    context: Mapping[str, Any],
    blocks: Mapping[str, str],
    *,
    mjml: Callable[[str], str] | None = None,
    inliner: str = "premailer",
    utm: Mapping[str, str] | None = None,
    formatting: Formatting | None = None,
) -> str:
    """Jinja-render the MJML source for one recipient, then compile and inline it.

    ``mjml`` defaults to mjml-python with tailor's fidelity fixes; pass
    ``compile_mjml`` for the plain hand-written pipeline, or the official MJML oracle.
    ``formatting`` is the recipient's locale, time zone and currency (``Prepared.formatting``).
    """
    source, settings = expand_for(compiler, name, blocks)
    with formatting_as(replace(formatting or Formatting(), utm=dict(utm or {}))):
        mjml_source = render_capped(compiler.html_env.from_string(source), dict(context))
    compile_fn = mjml or (lambda src: compile_mjml(fix_for_mrml(src)))
    html = inline_css(compile_fn(mjml_source), inliner)
    return _tag_links(html, dict(utm or {})) if utm else html
