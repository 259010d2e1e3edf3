"""The plain-text part, generated from the final HTML.

Converting HTML to text costs far more than the Jinja render itself (FIELD-NOTES:
~36×), so the conversion runs once per template version, on the compiled HTML with its
Jinja tokens protected; per recipient only the resulting text template renders, and it
prints the values the HTML part already computed where that is certain to give the same
text (``rendering/replay.py``).
"""

from __future__ import annotations

import re

import html2text

from tailor.rendering.tokens import TokenVault

_HIDDEN_DIV = re.compile(r"<div[^>]*style=\"[^\"]*display:\s*none[^\"]*\"[^>]*>.*?</div>", re.S | re.I)
_CONDITIONAL = re.compile(r"<!--\[if [^\]]*\]>.*?<!\[endif\]-->", re.S)
_HEAD = re.compile(r"<head\b.*?</head>", re.S | re.I)
_BLANK_LINES = re.compile(r"\n[ \t]*(\n[ \t]*)+\n")
_TRAILING = re.compile(r"[ \t]+\n")


def _converter() -> html2text.HTML2Text:
    conv = html2text.HTML2Text()
    conv.body_width = 0  # wrapping would depend on each recipient's values
    conv.ignore_images = True
    conv.ignore_emphasis = True
    conv.ignore_tables = True  # layout tables flatten into paragraphs
    conv.protect_links = False
    conv.inline_links = True
    conv.skip_internal_links = True
    conv.single_line_break = False
    conv.unicode_snob = True
    conv.escape_snob = False
    conv.mark_code = False
    return conv


def html_to_text(html: str) -> str:
    """Readable plain text for ``html``: links as ``text (url)``, headings kept, layout flattened."""
    html = _HEAD.sub("", html)
    html = _CONDITIONAL.sub("", html)
    html = _HIDDEN_DIV.sub("", html)
    text = _converter().handle(html)
    # html2text writes links as [text](url); mail clients show "text (url)" better
    # a link without text is a linked image (logo, product photo): its URL alone is noise
    text = re.sub(
        r"\[([^\]\n]*)\]\(([^)\s]+)\)", lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1).strip() else "", text
    )
    text = re.sub(r"^\s*\*\s+\*\s+\*\s*$", "", text, flags=re.M)
    text = _TRAILING.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() + "\n"


def html_template_to_text_template(html_template: str) -> str:
    """Convert an HTML *template* (Jinja tokens in it) to a text template, once."""
    vault = TokenVault()
    protected = vault.protect(html_template)
    return vault.restore(html_to_text(protected))


def html_template_to_text_pieces(html_template: str) -> list[str | int]:
    """The text template of ``html_template`` as text and the indices of its Jinja tokens.

    Token ``i`` is the ``i``-th token of ``html_template``: the text part can tell which
    HTML token each of its tokens is (``rendering/replay.py``). Joined with the tokens put
    back, this is :func:`html_template_to_text_template`.
    """
    vault = TokenVault()
    return vault.pieces(html_to_text(vault.protect(html_template)))


def normalize_text(text: str) -> str:
    """Whitespace-insensitive form used to compare text parts (non-breaking spaces included)."""
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines() if line.strip())
