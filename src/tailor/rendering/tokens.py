"""Hide Jinja tokens from tools that do not speak Jinja (MRML, CSS inliners, html2text).

Each ``{{ … }}``, ``{% … %}`` and ``{# … #}`` is swapped for a placeholder that the
tool passes through untouched, then swapped back. This is what lets the MJML compile
and the CSS inlining run once per template version instead of once per recipient.

Two placeholder forms exist because HTML5 parsers (css-inline) *move* text that sits
directly inside a ``<table>`` ("foster parenting"), but leave comments where they are:

- ``TJ0x7x`` — alphanumeric, survives attribute values and URLs;
- ``<!--TJ0x7x-->`` — used for tokens in text positions when ``html_aware`` is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

JINJA_TOKEN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
#: a ``{% word … %}`` tag token: its word, and the rest
TAG_WORD = re.compile(r"\{%[-+]?\s*(\w+)(?P<rest>.*?)[-+]?%\}", re.S)
#: a ``{{ … }}`` output token: its whitespace control and expression
OUTPUT_TOKEN = re.compile(r"\{\{(?P<open>[-+]?)(?P<expr>.*?)(?P<close>[-+]?)\}\}\Z", re.S)
#: Jinja tags that need an ``{% end… %}`` (and ``{% set x %}`` without ``=``)
BLOCK_TAGS = ("if", "for", "macro", "call", "filter", "with", "autoescape", "raw", "block")
# A serializer escapes a comment it finds in RCDATA (``<title>``, ``<textarea>``): take that form back too,
# or the subject would show as ``&lt;!--…--&gt;`` in the browser tab.
_COMMENT_PLACEHOLDER = re.compile(r"<!--TJ0x(\d+)x-->|&lt;!--TJ0x(\d+)x--&gt;")
_PLACEHOLDER = re.compile(r"TJ0x(\d+)x")
_ANY_PLACEHOLDER = re.compile(_COMMENT_PLACEHOLDER.pattern + "|" + _PLACEHOLDER.pattern)


class _MarkupScanner:
    """Tracks whether a position in HTML is text, inside a tag, or inside a comment."""

    def __init__(self) -> None:
        self.state = "text"
        self.quote = ""

    def feed(self, chunk: str) -> None:
        i, n = 0, len(chunk)
        while i < n:
            c = chunk[i]
            if self.state == "text":
                if chunk.startswith("<!--", i):
                    self.state, i = "comment", i + 4
                    continue
                if c == "<" and i + 1 < n and (chunk[i + 1].isalpha() or chunk[i + 1] in "/!"):
                    self.state = "tag"
            elif self.state == "tag":
                if self.quote:
                    if c == self.quote:
                        self.quote = ""
                elif c in "\"'":
                    self.quote = c
                elif c == ">":
                    self.state = "text"
            elif self.state == "comment" and chunk.startswith("-->", i):
                self.state, i = "text", i + 3
                continue
            i += 1


@dataclass
class TokenVault:
    """Holds the Jinja tokens taken out of a source, by index."""

    tokens: list[str] = field(default_factory=list)

    def protect(self, source: str, *, html_aware: bool = False) -> str:
        """Replace every Jinja token in ``source`` with a placeholder."""
        out: list[str] = []
        scanner = _MarkupScanner()
        last = 0
        for match in JINJA_TOKEN.finditer(source):
            between = source[last : match.start()]
            out.append(between)
            scanner.feed(between)
            self.tokens.append(match.group(0))
            name = f"TJ0x{len(self.tokens) - 1}x"
            out.append(f"<!--{name}-->" if html_aware and scanner.state == "text" else name)
            last = match.end()
        out.append(source[last:])
        return "".join(out)

    def restore(self, text: str) -> str:
        """Put the original Jinja tokens back in place of their placeholders."""
        text = _COMMENT_PLACEHOLDER.sub(lambda m: self.tokens[int(m.group(1) or m.group(2))], text)
        return _PLACEHOLDER.sub(lambda m: self.tokens[int(m.group(1))], text)

    def pieces(self, text: str) -> list[str | int]:
        """``text`` as its text between placeholders and the index of each placeholder's token."""
        out: list[str | int] = []
        last = 0
        for match in _ANY_PLACEHOLDER.finditer(text):
            out.append(text[last : match.start()])
            out.append(int(match.group(1) or match.group(2) or match.group(3)))
            last = match.end()
        out.append(text[last:])
        return out

    def missing(self, text: str) -> list[str]:
        """Tokens whose placeholder a tool dropped: a compile error, never silent loss."""
        seen = {int(m.group(1)) for m in _PLACEHOLDER.finditer(text)}
        return [tok for i, tok in enumerate(self.tokens) if i not in seen and not tok.startswith("{#")]
