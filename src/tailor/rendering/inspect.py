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
#: what a reader must never see: a value printed as Python's word for nothing, or a
#: placeholder left unfilled (Jinja's, or another tool's merge tag). "None of these…" is English.
LEFTOVERS = re.compile(r"\bNone\b(?! of\b)|\bnan\b|\bundefined\b|\{\{|\{%|\[\[|\*\||%%")


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
    #: ``None``, ``nan``, ``undefined``, ``{{``, ``[[``, ``*|``, ``%%`` in the visible text, in order
    leftovers: list[str] = field(default_factory=list)
    #: the ``<html lang>`` screen readers pronounce the text in ("" when missing)
    lang: str = ""

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
        leftovers=LEFTOVERS.findall(text),
        lang=(doc.get("lang") or "").strip(),
    )


#: Outlook-only HTML; official MJML merges a raw ``<!--[if mso]>…<![endif]-->`` into the next one
_CONDITIONAL = re.compile(r"<!--\[if mso(?: \| IE)?\]>(.*?)<!\[endif\]-->", re.S)
_OUTLOOK_WIDTH = re.compile(
    r"<(?:td|table)\b[^>]*?(?:\bwidth=\"(\d+(?:\.\d+)?)(?:px)?\"|style=\"[^\"]*?(?<![-\w])width:\s*(\d+(?:\.\d+)?)px)"
)
_COLUMN_CLASS = re.compile(r"^mj-column-(per|px)-(\d+)(?:-(\d+))?$")
_WIDGET_CLASS = re.compile(r"^mj-(menu|carousel|accordion)[\w-]*$")
_CAROUSEL_ID = re.compile(r"mj-carousel-[0-9a-f]{8,16}-")


@dataclass
class EmailLayout:
    """The layout a reader's client builds: column widths, Outlook's tables, interactive parts."""

    #: each column's width class in document order: "per-33.33", "px-480"
    columns: list[str]
    #: the widths of the tables and cells inside Outlook-only conditional comments, in order,
    #: in whole pixels (official MJML writes 254.4px where MRML writes 254px, 85px for 85.71429px,
    #: and 199.99999999999997px for 200px)
    outlook_widths: list[str]
    #: hamburger, carousel and accordion parts (class names, generated ids folded), sorted
    widgets: list[str]


def layout(html: str) -> EmailLayout:
    """The structure of an MJML email as official MJML and MRML both write it, numbers rounded.

    MRML writes ``mj-column-per-33-333332`` where MJML writes ``…-33-333333333333336``,
    and a random carousel id where MJML writes another: both are folded.
    """
    doc = lxml_html.document_fromstring(html or "<html></html>")
    columns: list[str] = []
    widgets: list[str] = []
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for cls in (el.get("class") or "").split():
            column = _COLUMN_CLASS.match(cls)
            if column:
                kind, whole, fraction = column.groups()
                value = float(f"{whole}.{fraction or 0}")
                columns.append(f"{kind}-{value:.2f}".rstrip("0").rstrip("."))
            elif _WIDGET_CLASS.match(cls):
                widgets.append(_CAROUSEL_ID.sub("mj-carousel-ID-", cls))
    outlook: list[str] = []
    for block in _CONDITIONAL.findall(html):
        for m in _OUTLOOK_WIDTH.finditer(block):
            outlook.append(str(int(round(float(m.group(1) or m.group(2)), 1))))
    return EmailLayout(columns=columns, outlook_widths=outlook, widgets=sorted(widgets))


#: the properties MJML attributes (and mj-attributes/mj-class) set on what a reader sees
_TEXT_STYLE_PROPERTIES = (
    "color",
    "background-color",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "letter-spacing",
    "line-height",
    "text-align",
    "text-decoration",
    "text-transform",
)
_SHORT_HEX = re.compile(r"#([0-9a-f])([0-9a-f])([0-9a-f])\b")


def text_styles(html: str) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each element holding text, with the text styles written on it (values normalized).

    Shows whether mj-attributes, mj-class and the components' defaults reached the text:
    ``#fff`` equals ``#ffffff`` and spacing is folded. ``!important`` is dropped: official
    MJML's inliner (juice) drops it from ``<mj-style inline>`` rules, css-inline keeps it.
    """
    doc = lxml_html.document_fromstring(html or "<html></html>")
    body = doc.find("body")
    found: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    for el in (body if body is not None else doc).iter():
        if not isinstance(el.tag, str) or not (el.text and el.text.strip()):
            continue
        declared: dict[str, str] = {}
        for declaration in (el.get("style") or "").split(";"):
            name, _, value = declaration.partition(":")
            name = name.strip().lower()
            if name in _TEXT_STYLE_PROPERTIES:
                value = " ".join(value.lower().replace("!important", "").split())
                declared[name] = _SHORT_HEX.sub(r"#\1\1\2\2\3\3", value.replace(", ", ","))
        found.append((" ".join(el.text.split())[:40], tuple(sorted(declared.items()))))
    return found
