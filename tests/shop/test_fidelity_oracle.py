"""Rendering fidelity: tailor's compile-once output reads exactly like official MJML's.

For every template of the example shop and every persona, the same recipient context
is rendered twice: by tailor (MJML compiled once with mjml-python, Jinja per recipient)
and by the reference pipeline (Jinja per recipient, then the official npm `mjml@4`).
What a reader gets — visible text, links, images — must be identical.
"""

from __future__ import annotations

import pytest
from shop_data import SHOP_NOW, context_for, persona_names, shop_templates

from tailor.email import RenderAborted
from tailor.rendering.inspect import anatomy
from tailor.rendering.naive import render_naive


@pytest.mark.parametrize("persona", persona_names())
@pytest.mark.parametrize("template", shop_templates())
def test_same_visible_text_links_and_images_as_official_mjml(shop, personas, mjml_oracle, template, persona):
    try:
        prepared = shop.prepare(template, profile=personas[persona], at=SHOP_NOW, context=context_for(template))
    except RenderAborted:
        pytest.skip("an abort rule skips this recipient")
    compiled = prepared.compiled
    ours = compiled.render(prepared.context, prepared.blocks, formatting=prepared.formatting).html
    official = render_naive(
        shop.compiler,
        template,
        prepared.context,
        prepared.blocks,
        mjml=mjml_oracle,
        inliner="css-inline",
        utm=compiled.utm,
        formatting=prepared.formatting,
    )
    a, b = anatomy(ours), anatomy(official)
    assert a.text == b.text
    assert a.links == b.links
    assert a.images == b.images
    assert len(a.text) > 200, "a real email has real content"
