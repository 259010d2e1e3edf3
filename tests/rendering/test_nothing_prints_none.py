"""Nothing prints "None": a null or missing value renders empty and its fallback names the file and line."""

from __future__ import annotations

from tailor.rendering.compiler import Compiler
from tailor.rendering.fallbacks import collecting_fallbacks

PAGE = """---
subject: "{{ profile.nickname }}Your week"
---
<mjml><mj-head><mj-title>T</mj-title></mj-head><mj-body>
{% slot "hero" default="hero/a" %}
</mj-body></mjml>
"""
BLOCK = (
    '{% import "partials/m.html" as m %}\n<mj-section><mj-column>\n'
    "<mj-text>It's been {{ profile.days_since_purchase }} days</mj-text>\n"
    "<mj-text>{{- profile.missing -}}|{{ m.show(profile.days_since_purchase) }}|{{ '}}' }}|"
    "{% raw %}{{ kept }}{% endraw %}</mj-text>\n</mj-column></mj-section>\n"
)
MACROS = "{% macro show(value) %}{{ value }}{% endmacro %}"


def render(write_templates, profile):
    templates = write_templates({"t.mjml": PAGE, "blocks/hero/a.mjml": BLOCK, "partials/m.html": MACROS})
    compiled = Compiler(templates).get("t")
    ctx = {"profile": profile, "__locale": "en_US", "__tz": None, "__currency": "USD"}
    with collecting_fallbacks() as fallbacks:
        parts = compiled.render(ctx)
    return parts, fallbacks


def test_null_and_missing_values_render_empty_with_their_place(write_templates):
    parts, fallbacks = render(write_templates, {"days_since_purchase": None, "nickname": None})
    assert "None" not in parts.html and "None" not in parts.text and "None" not in parts.subject
    assert "It's been  days" in parts.html
    assert parts.subject == "Your week"
    places = {(f["reason"], f.get("at")) for f in fallbacks}
    assert ("null-value", "blocks/hero/a.mjml:3") in places
    assert ("undefined-variable", "blocks/hero/a.mjml:4") in places
    assert ("null-value", "t.mjml:2") in places  # the subject, at its front-matter line
    # a macro imported at render time prints through Jinja's finalize: empty too, without a place
    assert ("null-value", None) in places
    missing = next(f for f in fallbacks if f["reason"] == "undefined-variable")
    assert missing["variable"] == "missing" and missing["detail"].startswith("blocks/hero/a.mjml:4: missing")


def test_values_print_as_before_and_raw_and_braces_in_strings_are_untouched(write_templates):
    parts, fallbacks = render(write_templates, {"days_since_purchase": 0, "nickname": "Bo", "missing": "x"})
    assert "It's been 0 days" in parts.html
    assert "x|0|}}|{{ kept }}" in parts.html
    assert parts.subject == "BoYour week"
    assert fallbacks == []
