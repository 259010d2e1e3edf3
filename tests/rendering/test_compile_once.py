"""Compile-once rendering gives what the per-recipient pipeline gives, and keeps its promises."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tailor.problems import ProblemError
from tailor.rendering.compiler import Compiler
from tailor.rendering.fallbacks import collecting_fallbacks
from tailor.rendering.inspect import anatomy
from tailor.rendering.naive import render_naive

PAGE = """
---
subject: "Hi {{ profile.first_name | default('friend') }}"
preheader: "{{ recs | length }} picks for {{ profile.city | default('you') }}"
utm: {utm_campaign: weekly}
---
<mjml>
<mj-head><mj-style inline="inline">.price { color: #aa0000; }</mj-style>
<mj-style>@media (max-width:480px) { .price { font-size: 18px; } }</mj-style></mj-head>
<mj-body>
{% include "partials/header.mjml" %}
{% slot "hero" default="hero/generic" %}
{% for p in recs %}
<mj-section>
  <mj-column><mj-image src="{{ p.image }}" alt="{{ p.title }}" href="{{ p.url }}" /></mj-column>
  <mj-column>
    <mj-text css-class="price">{{ p.title }} {{ p.price | money }}{% if p.price > 40 %} premium{% endif %}</mj-text>
    <mj-button href="{{ p.url }}">View</mj-button>
  </mj-column>
</mj-section>
{% endfor %}
<mj-section><mj-column><mj-table>
  <tr><th>Item</th><th>Qty</th></tr>
  {% for p in recs %}<tr><td>{{ p.title }}</td><td>{{ loop.index }}</td></tr>{% endfor %}
</mj-table></mj-column></mj-section>
</mj-body>
</mjml>
"""

FILES = {
    "weekly.mjml": PAGE,
    "partials/header.mjml": """
        <mj-section><mj-column>
          <mj-text font-family='"Helvetica Neue", Arial'>
            <span>Example</span>
            <span>Shop</span>
          </mj-text>
          <mj-button href="https://example-shop.com/new?ref=nav&amp;x=1">New in</mj-button>
        </mj-column></mj-section>
    """,
    "blocks/hero/generic.mjml": """
        <mj-section><mj-column>
          <mj-text>Hello {{ profile.first_name | default('there') }}</mj-text>
        </mj-column></mj-section>
    """,
    "blocks/hero/vip.mjml": """
        <mj-section background-color="#111111"><mj-column>
          <mj-text color="#ffffff">
            Welcome back, {{ profile.first_name }}. Code {{ discount_code | default('VIP') }}
          </mj-text>
        </mj-column></mj-section>
    """,
}

RECS = [
    {
        "id": "sku-1",
        "title": "Wool Coat & Scarf",
        "image": "https://cdn.example-shop.com/img/1.jpg",
        "url": "https://example-shop.com/p/1",
        "price": 149.0,
    },
    {
        "id": "sku-2",
        "title": "Linen <Shirt>",
        "image": "https://cdn.example-shop.com/img/2.jpg",
        "url": "https://example-shop.com/p/2?c=a",
        "price": 29.5,
    },
]

CONTEXTS = [
    ({"profile": {"first_name": "Ann", "city": "Lyon"}, "recs": RECS}, {"hero": "hero/vip"}),
    ({"profile": {}, "recs": []}, {"hero": "hero/generic"}),
    ({"profile": {"first_name": "Zoë"}, "recs": RECS[:1], "discount_code": "X1"}, {"hero": "hero/vip"}),
]


@pytest.fixture
def compiler(write_templates):
    return Compiler(write_templates(FILES), slot_resolver=lambda slot: (["hero/vip"], "hero/generic"))


def _ctx(ctx):
    return {**ctx, "now": datetime(2026, 11, 23, tzinfo=UTC)}


@pytest.mark.parametrize("ctx,blocks", CONTEXTS)
def test_compile_once_equals_per_recipient_pipeline(compiler, ctx, blocks):
    compiled = compiler.get("weekly")
    once = compiled.render(_ctx(ctx), blocks).html
    naive = render_naive(compiler, "weekly", _ctx(ctx), blocks, inliner="css-inline", utm=compiled.utm)
    a, b = anatomy(once), anatomy(naive)
    assert a.text == b.text
    assert a.links == b.links
    assert a.images == b.images


def test_compiles_once_per_version(compiler):
    compiler.watch.recheck_seconds = 0
    first = compiler.get("weekly")
    assert compiler.get("weekly") is first
    (compiler.templates_dir / "blocks/hero/generic.mjml").write_text(
        "<mj-section><mj-column><mj-text>Changed</mj-text></mj-column></mj-section>"
    )
    second = compiler.get("weekly")
    assert second is not first and second.version != first.version


def test_fidelity_fixes_whitespace_and_quoted_fonts(compiler):
    html = compiler.get("weekly").render(_ctx(CONTEXTS[1][0]), {}).html
    assert "Example Shop" in anatomy(html).text  # MRML alone renders "ExampleShop"
    assert "'Helvetica Neue', Arial" in html  # MRML alone writes broken `"Helvetica Neue\", Arial`
    assert '\\"' not in html


def test_css_inlined_and_media_queries_kept(compiler):
    html = compiler.get("weekly").render(_ctx(CONTEXTS[0][0]), CONTEXTS[0][1]).html
    assert "color: #aa0000" in html or "color:#aa0000" in html
    assert "@media (max-width:480px)" in html


def test_values_are_autoescaped(compiler):
    html = compiler.get("weekly").render(_ctx(CONTEXTS[0][0]), CONTEXTS[0][1]).html
    assert "Linen &lt;Shirt&gt;" in html and "<Shirt>" not in html


def test_every_link_is_utm_tagged(compiler):
    html = compiler.get("weekly").render(_ctx(CONTEXTS[0][0]), CONTEXTS[0][1]).html
    links = [link for link in anatomy(html).links]
    assert links, "the page has links"
    for link in links:
        assert "utm_source=tailor" in link and "utm_medium=email" in link and "utm_campaign=weekly" in link, link
    assert "https://example-shop.com/p/2?c=a&utm_source=tailor" in links[2] or any("c=a&utm_source" in x for x in links)


def test_utm_can_be_turned_off(write_templates):
    files = dict(FILES)
    files["weekly.mjml"] = PAGE.replace("utm: {utm_campaign: weekly}", "utm: false")
    html = Compiler(write_templates(files)).get("weekly").render(_ctx(CONTEXTS[0][0]), {}).html
    assert "utm_source" not in html


def test_subject_and_preheader(compiler):
    parts = compiler.get("weekly").render(_ctx(CONTEXTS[0][0]), CONTEXTS[0][1])
    assert parts.subject == "Hi Ann"
    assert parts.preheader == "2 picks for Lyon"
    assert "2 picks for Lyon" in parts.html  # the hidden preview text


def test_subject_and_preheader_are_one_line_of_text_whatever_the_profile_holds(compiler):
    # Before: line breaks were collapsed but a NUL or an ESC from profile data stayed in
    # the subject, which no mail header may hold: the SMTP sender refused the email.
    ctx = {"profile": {"first_name": "Ann\r\nBcc: x@evil.example\x00\x1b[2J\x7f", "city": "Ly\x00on\u2028"}}
    parts = compiler.get("weekly").render(_ctx({**ctx, "recs": RECS}), {"hero": "hero/vip"})
    assert parts.subject == "Hi Ann Bcc: x@evil.example[2J"
    assert parts.preheader == "2 picks for Lyon"


def test_slot_renders_chosen_block(compiler):
    plain = Compiler(compiler.templates_dir).get("weekly")
    assert set(plain.slots["hero"].html) == {"hero/generic"}
    vip = compiler.get("weekly")
    assert vip.render(_ctx(CONTEXTS[0][0]), {"hero": "hero/vip"}).blocks == {"hero": "hero/vip"}
    assert "Welcome back, Ann" in vip.render(_ctx(CONTEXTS[0][0]), {"hero": "hero/vip"}).html
    assert "Hello Ann" in vip.render(_ctx(CONTEXTS[0][0]), {"hero": "hero/generic"}).html


def test_failing_block_falls_back_to_default(write_templates):
    files = dict(FILES)
    files["blocks/hero/vip.mjml"] = (
        "<mj-section><mj-column><mj-text>{{ profile.first_name + 1 }}</mj-text></mj-column></mj-section>"
    )
    compiler = Compiler(write_templates(files), slot_resolver=lambda s: (["hero/vip"], "hero/generic"))
    with collecting_fallbacks() as fallbacks:
        parts = compiler.get("weekly").render(_ctx(CONTEXTS[0][0]), {"hero": "hero/vip"})
    assert parts.blocks["hero"] == "hero/generic"
    assert "Hello Ann" in parts.html
    assert [f["reason"] for f in fallbacks] == ["block-failed"]
    assert fallbacks[0]["block"] == "hero/vip"


def test_undefined_variable_renders_empty_and_is_recorded(compiler):
    with collecting_fallbacks() as fallbacks:
        parts = compiler.get("weekly").render(_ctx({"profile": {}, "recs": []}), {"hero": "hero/generic"})
    assert "Hello there" in parts.html  # default() is the declared fallback: not recorded
    assert parts.subject == "Hi friend"
    assert fallbacks == []
    vip = compiler.get("weekly")
    with collecting_fallbacks() as fallbacks:
        parts = vip.render(_ctx({"profile": {}, "recs": []}), {"hero": "hero/vip"})
    assert "Welcome back, ." in parts.html
    assert {"reason": "undefined-variable", "variable": "first_name"}.items() <= fallbacks[0].items()


def test_jinja_with_less_than_inside_mjml_works(write_templates):
    compiler = Compiler(
        write_templates(
            {
                "t.mjml": """
        <mjml><mj-head><mj-title>T</mj-title></mj-head><mj-body>
        {% if items | length < 2 %}
        <mj-section><mj-column><mj-text>few {{ 1 if 1 < 2 else 0 }}</mj-text></mj-column></mj-section>
        {% endif %}
        </mj-body></mjml>
    """
            }
        )
    )
    assert "few 1" in anatomy(compiler.get("t").render({"items": []}, {}).html).text
    assert "few" not in anatomy(compiler.get("t").render({"items": [1, 2]}, {}).html).text


def test_plain_html_templates_work(write_templates):
    compiler = Compiler(
        write_templates(
            {
                "plain.html": """
        <html><head><title>Hi {{ name }}</title><style>p { color: #333333; }</style></head>
        <body><p>Hello {{ name }}</p><a href="https://example-shop.com/">Shop</a></body></html>
    """
            }
        )
    )
    parts = compiler.get("plain").render({"name": "Ann"}, {})
    assert parts.subject == "Hi Ann"
    assert "color: #333333" in parts.html.replace("color:#333333", "color: #333333")
    assert "utm_campaign=plain" in parts.html
    assert "Hello Ann" in parts.text


def test_broken_template_is_a_compile_error_not_a_send_error(write_templates):
    compiler = Compiler(
        write_templates(
            {
                "t.mjml": "<mjml><mj-body><mj-section><mj-column><mj-text>{{ oops(</mj-text>"
                "</mj-column></mj-section></mj-body></mjml>"
            }
        )
    )
    with pytest.raises(ProblemError) as err:
        compiler.get("t")
    assert "t.mjml:1:" in str(err.value) and "syntax" in str(err.value).lower()


def test_broken_edit_keeps_last_good_version_serving(compiler):
    compiler.watch.recheck_seconds = 0
    good = compiler.get("weekly")
    block = compiler.templates_dir / "blocks/hero/generic.mjml"
    block.write_text("<mj-section><mj-column><mj-text>{{ broken(</mj-text></mj-column></mj-section>")
    assert compiler.get("weekly") is good
    assert "generic.mjml:1:" in str(compiler.errors["weekly"][0])
    assert compiler.check("weekly"), "check() still reports the broken file"
    block.write_text("<mj-section><mj-column><mj-text>Fixed</mj-text></mj-column></mj-section>")
    fixed = compiler.get("weekly")
    assert fixed is not good and "weekly" not in compiler.errors
    assert "Fixed" in fixed.render(_ctx(CONTEXTS[1][0]), {}).html


def test_only_inline_mj_style_is_inlined(compiler):
    html = compiler.get("weekly").render(_ctx(CONTEXTS[0][0]), CONTEXTS[0][1]).html
    assert "border-collapse: collapse; mso-table-lspace" not in html.split("</head>")[1]  # MJML resets stay in <head>
    assert "#outlook a" in html.split("</head>")[0]
    assert "tailor:inline" not in html and "tailor:style" not in html


def test_self_closing_defaults_in_mj_attributes(write_templates):
    root = write_templates(
        {
            "t.mjml": """
        <mjml><mj-head><mj-title>T</mj-title><mj-attributes>
          <mj-text padding="0px" />
          <mj-button padding="0px" />
        </mj-attributes></mj-head><mj-body>
        <mj-section><mj-column><mj-text><b>One</b>
          <i>two</i></mj-text></mj-column></mj-section></mj-body></mjml>
    """
        }
    )
    assert "One two" in anatomy(Compiler(root).get("t").render({}, {}).html).text
