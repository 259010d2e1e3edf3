"""Read a rendered email the way a reader (and QA) sees it: visible text, links, images, checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import html as lxml_html

_HIDDEN = re.compile(r"display\s*:\s*none", re.I)
_BLOCK_TAGS = {
    "p",
    "div",
    "td",
    "tr",
    "table",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "section",
    "center",
    "hr",
}

#: Gmail clips messages whose HTML is larger than this
GMAIL_CLIP_BYTES = 102 * 1024


@dataclass
class EmailAnatomy:
    """What a reader gets from an HTML email."""

    text: str
    links: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    images_without_alt: list[str] = field(default_factory=list)
    images_without_width: list[str] = field(default_factory=list)
    size_bytes: int = 0
    has_dark_mode_meta: bool = False

    @property
    def clipped_by_gmail(self) -> bool:
        return self.size_bytes > GMAIL_CLIP_BYTES


def anatomy(html: str, *, include_hidden: bool = False) -> EmailAnatomy:
    """Visible text (whitespace folded as a browser does), links and images of ``html``."""
    doc = lxml_html.document_fromstring(html or "<html></html>")
    body = doc.find("body")
    root = body if body is not None else doc
    pieces: list[str] = []

    def walk(el: Any) -> None:  # an element, a comment or a processing instruction
        if not isinstance(el.tag, str):  # comments, processing instructions
            if el.tail:
                pieces.append(el.tail)
            return
        tag = el.tag.lower()
        hidden = tag in ("style", "script", "head", "title") or (
            not include_hidden and _HIDDEN.search(el.get("style") or "")
        )
        if not hidden:
            if tag in _BLOCK_TAGS:
                pieces.append(" ")
            if el.text:
                pieces.append(el.text)
            for child in el:
                walk(child)
            if tag in _BLOCK_TAGS:
                pieces.append(" ")
        if el.tail:
            pieces.append(el.tail)

    walk(root)
    text = " ".join("".join(pieces).split())
    links = [a.get("href") for a in root.iter("a") if a.get("href")]
    images = [img for img in root.iter("img")]
    return EmailAnatomy(
        text=text,
        links=links,
        images=[img.get("src") or "" for img in images],
        images_without_alt=[img.get("src") or "" for img in images if img.get("alt") is None],
        images_without_width=[img.get("src") or "" for img in images if not img.get("width")],
        size_bytes=len(html.encode("utf-8")),
        has_dark_mode_meta=bool(re.search(r"<meta[^>]+name=[\"']color-scheme[\"']", html, re.I)),
    )
