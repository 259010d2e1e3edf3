"""The text part is converted once per version and equals converting each recipient's HTML."""

from __future__ import annotations

import pytest
from test_compile_once import CONTEXTS, FILES, _ctx

from tailor.rendering.compiler import Compiler
from tailor.rendering.text import html_to_text, normalize_text


@pytest.fixture
def compiled(write_templates):
    return Compiler(write_templates(FILES), slot_resolver=lambda s: (["hero/vip"], "hero/generic")).get("weekly")


@pytest.mark.parametrize("ctx,blocks", CONTEXTS)
def test_text_equals_per_recipient_conversion(compiled, ctx, blocks):
    parts = compiled.render(_ctx(ctx), blocks)
    assert normalize_text(parts.text) == normalize_text(html_to_text(parts.html))


def test_text_is_readable(compiled):
    parts = compiled.render(_ctx(CONTEXTS[0][0]), CONTEXTS[0][1])
    text = parts.text
    assert "Welcome back, Ann" in text
    assert "View (https://example-shop.com/p/1?utm_source=tailor" in text  # links kept as text (url)
    assert "<" not in text.replace("<Shirt>", "")  # no markup, values not HTML-escaped
    assert "&amp;" not in text and "Wool Coat & Scarf" in text
    assert "2 picks for Lyon" not in text  # the hidden preheader is not body text
    assert "TJ0x" not in text and "{{" not in text
