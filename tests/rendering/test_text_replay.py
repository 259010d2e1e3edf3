"""The text part takes the HTML part's printed values (``rendering/replay.py``) and is still
exactly the text template rendered on its own, as it was before: for every shop template and
persona, and for templates built to catch a replay that is out of step."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tailor import Tailor
from tailor.preview.personas import load_personas
from tailor.problems import ProblemError
from tailor.recommendations import RecommendationService
from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file
from tailor.rendering.compiler import PAGE, CompiledTemplate, Compiler, PageParts, _tidy_text
from tailor.rendering.environment import render_capped, with_globals
from tailor.rendering.fallbacks import collecting_fallbacks
from tailor.rendering.formatting import Formatting, formatting_as
from tailor.rendering.replay import shared_outputs
from tailor.rendering.text import html_template_to_text_pieces, html_template_to_text_template
from tailor.rendering.tokens import JINJA_TOKEN
from tailor.sandbox import render_limits

sys.path.insert(0, str(Path(__file__).parents[1] / "shop"))
from shop_data import ROOT, SHOP_NOW, context_for, persona_names, shop_templates

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def separately_rendered_text(
    compiler: Compiler, compiled: CompiledTemplate, context: dict, used: dict[str, str], formatting: Formatting
) -> str:
    """The text part as tailor rendered it before sharing: each piece's text template on its own."""
    formatting = replace(formatting, utm=compiled.utm) if formatting.utm is None else formatting
    env = compiler.text_env
    with formatting_as(formatting), render_limits():
        ctx = with_globals(compiled.html, context)
        slot_text = {}
        for slot, block in used.items():
            source = compiled.slots[slot].sources[block] if block else ""
            slot_text[slot] = render_capped(env.from_string(html_template_to_text_template(source)), dict(ctx))
        ctx[PAGE] = PageParts("", "", formatting.lang, formatting.direction, {}, slot_text)
        return _tidy_text(render_capped(env.from_string(compiled.text_source), ctx))


def _ordered(fallbacks: list[dict]) -> list[str]:
    return sorted(repr(sorted(f.items())) for f in fallbacks)


def assert_text_as_rendered_apart(compiler: Compiler, compiled: CompiledTemplate, context: dict, blocks: dict) -> str:
    formatting = Formatting()
    with collecting_fallbacks() as shared_fallbacks:
        parts = compiled.render(context, blocks, formatting=formatting)
    with collecting_fallbacks() as apart_fallbacks:
        html_only = compiled.render(context, blocks, text=False, formatting=formatting)
        apart = separately_rendered_text(compiler, compiled, context, parts.blocks, formatting)
    assert parts.text == apart
    assert html_only.html == parts.html and html_only.text == "" and html_only.blocks == parts.blocks
    assert _ordered(shared_fallbacks) == _ordered(apart_fallbacks)  # the same fallbacks, recorded once each
    return parts.text


# -- every shop template × persona ----------------------------------------------------


@pytest.fixture(scope="module")
def shop() -> Tailor:
    catalog = read_catalog_file(ROOT / "fixtures" / "catalog.csv")
    recommender = RecommendationService(
        catalog, fit_models(read_events_file(ROOT / "fixtures" / "events.jsonl"), catalog)
    )
    return Tailor(ROOT / "templates", ROOT / "rules", recommender=recommender)


@pytest.mark.parametrize("template", shop_templates())
def test_shop_text_parts_equal_the_text_template_rendered_apart(shop, template):
    personas = load_personas(ROOT / "fixtures" / "personas")
    assert _mentions_store(shop.compile(template).text.tailor_code)  # the text part does replay
    rendered = 0
    for name in persona_names():
        try:
            with collecting_fallbacks():
                prepared = shop.prepare(template, profile=personas[name], at=SHOP_NOW, context=context_for(template))
        except Exception:  # a persona the template refuses (consent) has no text part
            continue
        formatting = prepared.formatting
        with collecting_fallbacks():
            parts = prepared.compiled.render(prepared.context, prepared.blocks, formatting=formatting)
            apart = separately_rendered_text(
                shop.compiler, prepared.compiled, prepared.context, parts.blocks, formatting
            )
        assert parts.text == apart, name
        rendered += 1
    assert rendered >= 3


# -- templates made to catch a replay out of step ---------------------------------------

PAGE_SOURCE = """
---
subject: "For {{ profile.first_name | default('you') }}"
---
<mjml>
<mj-head><mj-title>x</mj-title><mj-preview>{{ profile.city | default('') }} & more</mj-preview></mj-head>
<mj-body>
{% import "macros.html" as m %}
{% slot "hero" default="hero/plain" %}
<mj-section><mj-column>
  <mj-text>Hi {{ profile.first_name | default('there') }}
    <b>{{ profile.nickname }}</b> {{ profile.missing_field }}</mj-text>
  <mj-text>{{ m.badge(profile.first_name) }} and {{ m.badge('x') | length }} wide</mj-text>
</mj-column></mj-section>
{% set wide = m.badge('x') | length > 8 %}
{% set greeting = 'Dear ' ~ profile.first_name | default('reader') %}
<mj-section><mj-column>
  <mj-text>{% if wide %}HTML-wide {{ profile.first_name }}{% else %}text-narrow {{ profile.last_name }}{% endif %}
  </mj-text>
  <mj-text>{{ greeting }} — {{ now | date('long') }} — {{ 3 * 7 }}</mj-text>
</mj-column></mj-section>
{% for p in recs %}
<mj-section><mj-column>
  <mj-image src="{{ p.image }}" alt="{{ p.title }}" href="{{ p.url }}" />
  <mj-text>{{ loop.index }}. <a href="{{ p.url }}">{{ p.title }}</a> {{ p.price | money }}
    {%- if p.price is none %} ask {{ p.title | lower }}
    {%- elif p.price > 40 %} <i>premium {{ p.title | upper }}</i>
    {%- else %} value {{ p.title | truncate(5) }}{% endif %}</mj-text>
  <mj-text>{% for tag in p.tags | default([]) %}{{ tag }}{% if not loop.last %}, {% endif %}{% endfor %}
    / {{ p.tags | default([]) | join(', ') }}</mj-text>
</mj-column></mj-section>
{% else %}
<mj-section><mj-column>
  <mj-text>Nothing for {{ profile.first_name | default('you') }} yet</mj-text>
</mj-column></mj-section>
{% endfor %}
</mj-body>
</mjml>
"""

FILES = {
    "weekly.mjml": PAGE_SOURCE,
    "macros.html": "{% macro badge(name) %}<strong>{{ name }}</strong>{% endmacro %}",
    "blocks/hero/plain.mjml": """
        <mj-section><mj-column>
          <mj-text>Hello {{ profile.first_name | default('there') }} & co</mj-text>
        </mj-column></mj-section>
    """,
    "blocks/hero/loop.mjml": """
        {% set shown_count = recs | length %}
        <mj-section><mj-column>
          <mj-text>
            {% for p in recs %}<a href="{{ p.url }}">{{ p.title }}</a> {% endfor %}{{ shown_count }} picks
          </mj-text>
          <mj-button href="{{ profile.home | default('https://example-shop.com/') }}">
            Go {{ profile.first_name }}
          </mj-button>
        </mj-column></mj-section>
    """,
}

RECS = [
    {
        "title": 'Wool <Coat> & "Scarf"',
        "image": "https://cdn.example-shop.com/1.jpg",
        "url": "https://example-shop.com/p/1?a=1&b=<2>",
        "price": 149.0,
        "tags": ["<new>", "a&b"],
    },
    {"title": "Linen 'Shirt'", "image": None, "url": "https://example-shop.com/p/2", "price": 19.5, "tags": []},
    {"title": "Mystery & Co", "image": "x", "url": "https://example-shop.com/p/3", "price": None},
]

CONTEXTS = [
    {"profile": {"first_name": "Ann <&>", "last_name": "O'Neil", "nickname": None, "city": "Lyon"}, "recs": RECS},
    {"profile": {}, "recs": []},
    {"profile": {"first_name": "Zoë"}, "recs": RECS[1:]},
]


@pytest.fixture
def compiler(write_templates):
    return Compiler(write_templates(FILES), slot_resolver=lambda slot: (["hero/loop"], "hero/plain"))


@pytest.mark.parametrize("block", ["hero/plain", "hero/loop"])
@pytest.mark.parametrize("context", CONTEXTS)
def test_text_part_equals_the_text_template_rendered_apart(compiler, context, block):
    compiled = compiler.get("weekly")
    text = assert_text_as_rendered_apart(compiler, compiled, {**context, "now": NOW}, {"hero": block})
    if context is CONTEXTS[0]:
        # values with HTML-special characters reach the text part as they are, each where the text template has it
        assert 'Wool <Coat> & "Scarf" (https://example-shop.com/p/1?a=1&b=<2>&utm_source=tailor' in text
        assert "Hi Ann <&>" in text and "premium WOOL <COAT>" in text
    # a condition on a macro's width decides differently in the two parts: the text part follows its own
    assert ("text-narrow" in text) and ("HTML-wide" in compiled.render({**context, "now": NOW}).html)


def test_only_values_certain_in_both_parts_are_shared(compiler):
    html = (
        "{% import 'macros.html' as m %}{% set wide = m.badge('x') | length > 8 %}{% set n = xs | length %}"
        "<p>{{ (a) | shown('f:1') }} {{ (n) | shown('f:1') }}</p>"
        "{% if wide %}<p>{{ (b) | shown('f:1') }}</p>{% else %}<p>{{ (c) | shown('f:1') }}</p>{% endif %}"
        "<p>{{ (m.badge(a)) | shown('f:1') }} {{ (a ~ '!') | shown('f:1') }}</p>"
        "{% for x in xs %}<p>{{ (loop) | shown('f:1') }} {{ (loop.index) | shown('f:1') }}"
        " {{ (x | join(',')) | shown('f:1') }}</p>{% endfor %}"
        "{% set block %}<b>{{ (a) | shown('f:1') }}</b>{% endset %}<p>{{ (block | length) | shown('f:1') }}</p>"
        "<a href=\"{{ (u) | shown('f:1') }}\">{{ (t) | shown('f:1') }}</a>"
        "<div style=\"display:none\">{{ (hidden) | shown('f:1') }}</div>"
    )
    tokens = JINJA_TOKEN.findall(html)
    order = [p for p in html_template_to_text_pieces(html) if isinstance(p, int)]
    shared = {tokens[i].split("|")[0].strip("{ ()") for i in shared_outputs(html, tokens, order, compiler.html_env)}
    # not: a branch on a macro's width, a call, `loop` itself, `join` (markup-aware), a set block, dropped text
    assert shared == {"a", "n", "a ~ '!'", "loop.index", "u", "t"}
    # a tag html2text drops (here in <head>) makes the control flow uncertain: nothing is shared
    head = "<html><head><title>{% if a %}x{% endif %}</title></head><body><p>{{ (a) | shown('f:1') }}</p></body></html>"
    tokens = JINJA_TOKEN.findall(head)
    order = [p for p in html_template_to_text_pieces(head) if isinstance(p, int)]
    assert shared_outputs(head, tokens, order, compiler.html_env) == set()


def _mentions_store(code) -> bool:
    return "tailor kept" in repr(code.co_consts) or any(
        _mentions_store(c) for c in code.co_consts if hasattr(c, "co_consts")
    )


def test_a_token_html2text_moves_out_of_its_loop_is_not_replayed(write_templates):
    # the link never closes inside the loop: html2text writes its URL once, after `{% endfor %}`,
    # where the text part has no `p` (an empty value), while the HTML part printed one URL per product
    root = write_templates(
        {
            "links.html": "---\nsubject: Links\nutm: false\n---\n<html><body><p>"
            '{% for p in recs %}<a href="{{ p.url }}">{{ p.title }}{% endfor %}</a></p></body></html>'
        }
    )
    compiler = Compiler(root)
    compiled = compiler.get("links")
    text = assert_text_as_rendered_apart(compiler, compiled, {**CONTEXTS[0], "now": NOW}, {})
    assert text.startswith("Wool <Coat> & \"Scarf\"Linen 'Shirt'Mystery & Co") and "https://" not in text


def test_text_part_from_the_disk_cache_replays_the_same(write_templates, tmp_path):
    root = write_templates(FILES)
    first = Compiler(root, cache_dir=tmp_path / "cache").get("weekly")
    loaded = Compiler(root, cache_dir=tmp_path / "cache")
    again = loaded.get("weekly")
    assert again is not first
    ctx = {**CONTEXTS[0], "now": NOW}
    assert again.render(ctx, {"hero": "hero/loop"}).text == first.render(ctx, {"hero": "hero/loop"}).text


def test_markers_are_not_the_template_authors(write_templates):
    root = write_templates(
        {
            "weekly.mjml": "---\nsubject: x\n---\n<mjml><mj-body><mj-section><mj-column>"
            "<mj-text>{{ profile.first_name | kept(0) }} {{ none | replayed(0) }}</mj-text>"
            "</mj-column></mj-section></mj-body></mjml>"
        }
    )
    with pytest.raises(ProblemError) as raised:
        Compiler(root).get("weekly")
    messages = " ".join(p.message for p in raised.value.problems)
    assert "unknown filter 'kept'" in messages and "unknown filter 'replayed'" in messages


def test_a_macro_file_cannot_reach_the_store(write_templates):
    # macro files are loaded at render time, compiled by Jinja's own generator: the markers are unknown filters there
    files = dict(FILES)
    files["macros.html"] = "{% macro badge(name) %}{{ name | replayed(0) }}{% endmacro %}"
    compiled = Compiler(write_templates(files)).get("weekly")
    with pytest.raises(Exception, match="replayed"):
        compiled.render({**CONTEXTS[0], "now": NOW}, {"hero": "hero/plain"})
