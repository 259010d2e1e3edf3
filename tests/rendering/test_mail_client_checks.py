"""Checks that mail clients punish: links to nowhere, images without alt or size, undefined mj-class, contrast."""

from __future__ import annotations

import pytest

from tailor.checks.mail_clients import contrast
from tailor.core import Tailor

HEAD = (
    "<mj-head><mj-title>T</mj-title><mj-attributes>"
    '<mj-button background-color="#1f3d36" color="#ffffff" />'
    '<mj-class name="eyebrow" color="#b5532f" />'
    "</mj-attributes></mj-head>"
)


def page(body: str, head: str = HEAD) -> str:
    return f'<mjml>{head}<mj-body>\n{{% slot "hero" default="hero/a" %}}\n{body}\n</mj-body></mjml>\n'


BLOCK = '<mj-section><mj-column><mj-text mj-class="eyebrow">Hi</mj-text></mj-column></mj-section>\n'


def check(write_templates, files: dict[str, str]) -> list[str]:
    templates = write_templates({"blocks/hero/a.mjml": BLOCK, **files})
    (templates.parent / "rules").mkdir(exist_ok=True)
    root = str(templates.parent) + "/"
    return [str(p).replace(root, "") for p in Tailor(templates, templates.parent / "rules").check()]


def test_a_good_page_has_no_problems(write_templates):
    body = (
        '<mj-section><mj-column><mj-button href="https://example.com/x">Go</mj-button>'
        '<mj-image src="https://example.com/a.png" alt="" />'
        "<mj-text><a href=\"{{ context.url | default('https://example.com') }}\">x</a>"
        '<img src="https://example.com/i.png" alt="i" width="20" /></mj-text></mj-column></mj-section>'
    )
    assert check(write_templates, {"t.mjml": page(body)}) == []


@pytest.mark.parametrize(
    "body,expected",
    [
        (
            "<mj-section><mj-column><mj-button>Go</mj-button></mj-column></mj-section>",
            'templates/t.mjml:3:24: a button without a link goes nowhere: add href="https://…"',
        ),
        (
            '<mj-section><mj-column><mj-button href="#">Go</mj-button></mj-column></mj-section>',
            'templates/t.mjml:3:24: a button with href="#" goes nowhere: link it to a page',
        ),
        (
            '<mj-section><mj-column><mj-text><a href="">here</a></mj-text></mj-column></mj-section>',
            'templates/t.mjml:3:33: a link with href="" goes nowhere: link it to a page',
        ),
        (
            '<mj-section><mj-column><mj-image src="https://example.com/a.png" /></mj-column></mj-section>',
            "templates/t.mjml:3:24: warning: an image without alt text: screen readers read out its file name; "
            'add alt="…" (alt="" if decorative)',
        ),
        (
            '<mj-section><mj-column><mj-text><img src="https://e.com/i.png" alt="i" /></mj-text></mj-column>'
            "</mj-section>",
            'templates/t.mjml:3:33: warning: an <img> without width="…": Outlook shows it at its full size',
        ),
        (
            '<mj-section background-color="#ffffff"><mj-column><mj-text color="#cccccc">pale</mj-text>'
            "</mj-column></mj-section>",
            "templates/t.mjml:3:51: warning: text colour #cccccc on #ffffff has a contrast of 1.6:1 (readable text "
            "needs 4.5:1): darken the text or lighten the background",
        ),
    ],
)
def test_each_mail_client_problem_is_located(write_templates, body, expected):
    assert check(write_templates, {"t.mjml": page(body)}) == [expected]


def test_large_text_needs_less_contrast(write_templates):
    body = '<mj-section><mj-column><mj-text color="#8a8a8a" font-size="28px">Big</mj-text></mj-column></mj-section>'
    assert check(write_templates, {"t.mjml": page(body)}) == []


def test_a_block_using_an_mj_class_its_host_does_not_define(write_templates):
    bare = "<mj-head><mj-title>T</mj-title></mj-head>"
    files = {"t.mjml": page("", bare), "u.mjml": page("", bare), "v.mjml": page("")}
    assert check(write_templates, files) == [
        "templates/blocks/hero/a.mjml:1:24: warning: mj-class 'eyebrow' is not defined by t, u "
        '(no <mj-class name="eyebrow"> in its <mj-attributes>): it renders unstyled there'
    ]


def test_contrast_ratio_matches_wcag():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)
    assert contrast("red", "#fff") is None


def test_the_studio_flags_placeholders_left_in_the_text():
    from tailor.preview.panel import email_checks
    from tailor.rendering.inspect import anatomy

    html = "<p>It's been None days, Dear [[FirstName]] *|FNAME|* %%Name%% {{ x }} nan undefined</p><p>None of it</p>"
    assert anatomy(html).leftovers == ["None", "[[", "*|", "%%", "%%", "{{", "nan", "undefined"]
    check = next(c for c in email_checks(html) if c.name == "placeholders left in the text")
    assert (check.ok, check.level) == (False, "fail")
    assert check.detail == "8 (None, [[, *|, %%, {{, nan, undefined)"
    clean = next(c for c in email_checks("<p>None of these</p>") if c.name == "placeholders left in the text")
    assert clean.ok and clean.detail == "none"


@pytest.mark.parametrize(
    "html,ok,detail",
    [
        ('<html lang="fr-FR"><body><p>Bonjour</p></body></html>', True, '<html lang="fr-FR">'),
        ('<html lang="und"><body><p>Hi</p></body></html>', False, '<html lang="und">'),
        ("<html><body><p>Hi</p></body></html>", False, "no lang: screen readers guess the language"),
    ],
)
def test_the_studio_checks_the_language_screen_readers_use(html, ok, detail):
    from tailor.preview.panel import email_checks

    check = next(c for c in email_checks(html) if c.name == "language (lang)")
    assert (check.ok, check.detail) == (ok, detail)
