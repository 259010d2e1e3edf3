"""MJML compile with mjml-python (MRML), and the checks and fixes it needs.

MRML compiles in well under a millisecond but differs from official MJML in ways that
FIELD-NOTES.md measured. :func:`lint` rejects what would silently render wrong (Jinja
in layout arithmetic, unknown tags, bare ``<``); :func:`fix_for_mrml` rewrites what MRML
would mangle (whitespace between inline tags, multi-line and double-quoted attribute
values) into an equivalent form it handles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import html as lxml_html
from lxml.cssselect import CSSSelector
from mjml import mjml2html

from tailor.problems import Problem
from tailor.rendering.source import Expanded
from tailor.rendering.tokens import JINJA_TOKEN

KNOWN_TAGS = {
    "mjml",
    "mj-head",
    "mj-body",
    "mj-attributes",
    "mj-all",
    "mj-class",
    "mj-breakpoint",
    "mj-font",
    "mj-preview",
    "mj-style",
    "mj-title",
    "mj-accordion",
    "mj-accordion-element",
    "mj-accordion-text",
    "mj-accordion-title",
    "mj-button",
    "mj-carousel",
    "mj-carousel-image",
    "mj-column",
    "mj-divider",
    "mj-group",
    "mj-hero",
    "mj-image",
    "mj-navbar",
    "mj-navbar-link",
    "mj-raw",
    "mj-section",
    "mj-social",
    "mj-social-element",
    "mj-spacer",
    "mj-table",
    "mj-text",
    "mj-wrapper",
    "mj-include",
    "mj-html-attributes",
    "mj-selector",
    "mj-html-attribute",
}
#: tags whose content is HTML passed through, not MJML
ENDING_TAGS = {
    "mj-text",
    "mj-button",
    "mj-table",
    "mj-raw",
    "mj-navbar-link",
    "mj-accordion-title",
    "mj-accordion-text",
    "mj-social-element",
    "mj-title",
    "mj-preview",
    "mj-style",
    "mj-html-attribute",
}
CONTENT_TAGS = {
    "mj-text",
    "mj-image",
    "mj-button",
    "mj-divider",
    "mj-spacer",
    "mj-table",
    "mj-social",
    "mj-navbar",
    "mj-carousel",
    "mj-accordion",
}
ALLOWED_PARENTS = {
    "mj-column": {"mj-section", "mj-group"},
    "mj-group": {"mj-section"},
    "mj-section": {"mj-body", "mj-wrapper"},
    "mj-wrapper": {"mj-body"},
    "mj-hero": {"mj-body", "mj-wrapper"},
    **{tag: {"mj-column", "mj-hero"} for tag in CONTENT_TAGS},
}
#: containers MJML builds from their children at compile time (CSS per child, counts): MRML
#: refuses text in them, and a Jinja loop there would change a layout computed once
_FIXED_CHILDREN = {"mj-carousel", "mj-navbar", "mj-social", "mj-accordion", "mj-accordion-element"}
#: attributes MJML does arithmetic with at compile time: Jinja there renders wrong
LAYOUT_ATTRIBUTES = {
    "width",
    "height",
    "padding",
    "padding-top",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "inner-padding",
    "border",
    "border-left",
    "border-right",
    "font-family",
    "full-width",
    "direction",
    "icon-size",
    "mj-class",
}
_COLOR_ATTRIBUTES = {
    "color",
    "background-color",
    "border-color",
    "container-background-color",
    "inner-background-color",
}
_COLOR = re.compile(r"^(#[0-9a-fA-F]{3,8}|rgba?\([\d\s.,%]+\)|[a-zA-Z]+|transparent)$")
_LENGTH = re.compile(r"^(\d+(\.\d+)?(px|%)?|auto)$")
_PADDING = re.compile(r"^(\d+(\.\d+)?(px|%)?\s*){1,4}$")

_TAG = re.compile(
    r"<(?P<close>/?)(?P<name>[a-zA-Z][\w:-]*)(?P<attrs>(?:\s+[^\s=/>]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*(?P<self>/?)>"
)
_ATTR = re.compile(r"(?P<name>[^\s=/>]+)(?:\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+)))?")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BLOCK_START = re.compile(r"\{%-?\s*(for|if)\b")
_BLOCK_END = re.compile(r"\{%-?\s*end(for|if)\b")
_FILL = "\x01"


class MJMLError(Exception):
    """mjml-python refused the source."""


@dataclass
class _OpenJinja:
    kind: str
    depth: int
    offset: int


def _mask_jinja(source: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Replace Jinja tokens by same-length filler so offsets stay true; list the tokens."""
    tokens = [(m.start(), m.end(), m.group(0)) for m in JINJA_TOKEN.finditer(source)]
    chars = list(source)
    for start, end, _ in tokens:
        chars[start:end] = _FILL * (end - start)
    return "".join(chars), tokens


@dataclass
class Tag:
    """One tag of a source, Jinja masked: where it starts, its name and attributes."""

    offset: int
    name: str
    closing: bool
    self_closing: bool
    attrs: dict[str, str]
    #: attributes whose value holds Jinja (decided per recipient)
    dynamic: set[str]


def tags(source: str) -> list[Tag]:
    """The tags of ``source`` in order, outside comments, with Jinja masked out of their attributes."""
    masked, _ = _mask_jinja(source)
    comments = [(m.start(), m.end()) for m in _COMMENT.finditer(masked)]
    found: list[Tag] = []
    for m in _TAG.finditer(masked):
        if any(a <= m.start() < b for a, b in comments):
            continue
        attrs: dict[str, str] = {}
        dynamic: set[str] = set()
        for attr in _ATTR.finditer(m.group("attrs")):
            name = attr.group("name").lower()
            value = next((v for v in (attr.group("dq"), attr.group("sq"), attr.group("bare")) if v is not None), "")
            attrs[name] = value
            if _FILL in value:
                dynamic.add(name)
        found.append(
            Tag(m.start(), m.group("name").lower(), bool(m.group("close")), bool(m.group("self")), attrs, dynamic)
        )
    return found


def lint(expanded: Expanded) -> list[Problem]:
    """Structural MJML problems and Jinja placed where compile-once would render wrong."""
    source = expanded.source
    masked, tokens = _mask_jinja(source)
    problems: list[Problem] = []

    def report(offset: int, message: str) -> None:
        problems.append(Problem(*expanded.locate(offset), message))

    stack: list[tuple[str, int]] = []  # open MJML tags
    open_jinja: list[_OpenJinja] = []
    events, covered = _events(masked, tokens)
    jinja_by_start = {start: tok for start, _, tok in tokens}

    # a bare "<" in text (outside tags, comments and Jinja) breaks the MRML parse
    for m in re.finditer(r"<", masked):
        if not any(a <= m.start() < b for a, b in covered):
            report(m.start(), "a bare '<' in text breaks the MJML parse: write &lt; (or use `is lt` in Jinja)")

    for offset, kind, match in events:
        in_ending = bool(stack) and stack[-1][0] in ENDING_TAGS
        if kind == "jinja":
            tok = jinja_by_start[offset]
            if stack and stack[-1][0] in _FIXED_CHILDREN and _BLOCK_START.match(tok):
                report(
                    offset,
                    f"Jinja {tok[:20]!r} directly inside <{stack[-1][0]}>: MJML builds it from a fixed list of "
                    "children at compile time; choose between whole sections instead",
                )
            _follow_jinja(tok, offset, len(stack), open_jinja)
            continue
        if kind != "tag" or match is None:
            continue
        name = match.group("name").lower()
        is_mj = name == "mjml" or name.startswith("mj-")
        if in_ending and _inside_ending(name, bool(match.group("close")), offset, stack, report):
            continue
        if not is_mj:
            _check_html_tag(name, offset, stack, report)
            continue
        if name not in KNOWN_TAGS:
            report(offset, f"unknown MJML tag <{name}>")
            continue
        if match.group("close"):
            _close(name, offset, stack, report)
            continue
        _check_placement(name, offset, stack, open_jinja, report)
        _check_attributes(match, offset, name, report)
        if not match.group("self"):
            stack.append((name, offset))
    for name, offset in stack:
        report(offset, f"<{name}> is never closed")
    return problems


def _inside_ending(name: str, closing: bool, offset: int, stack: list[tuple[str, int]], report) -> bool:
    """A tag met inside an ending tag's content (mj-text...): True when it is content, not structure.

    Content holds HTML, never MJML: an MJML tag there means the ending tag was left open.
    That is reported once, where it opens, and the tag is then read as it was meant.
    """
    if closing and name == stack[-1][0]:
        return False
    if name == "mj-preview" or stack[-1][0] == "mj-preview":
        report(offset, "mj-preview takes plain text only (mjml-python rejects HTML in it)")
        return True
    if not (name == "mjml" or name.startswith("mj-")):
        return True
    unclosed, opened_at = stack.pop()
    report(opened_at, f"<{unclosed}> is never closed: add </{unclosed}> before <{'/' if closing else ''}{name}>")
    return False


def _events(
    masked: str, tokens: list[tuple[int, int, str]]
) -> tuple[list[tuple[int, str, re.Match[str] | None]], list[tuple[int, int]]]:
    """Comments, tags (outside comments) and Jinja tokens in source order, and the spans they cover."""
    events: list[tuple[int, str, re.Match[str] | None]] = []
    for m in _COMMENT.finditer(masked):
        events.append((m.start(), "comment", m))
    comment_spans = [(m.start(), m.end()) for _, _, m in events if m]
    for m in _TAG.finditer(masked):
        if not any(a <= m.start() < b for a, b in comment_spans):
            events.append((m.start(), "tag", m))
    for start, _, _ in tokens:
        events.append((start, "jinja", None))
    events.sort(key=lambda e: e[0])
    tag_spans = sorted((m.start(), m.end()) for _, kind, m in events if kind == "tag" and m)
    covered = sorted(comment_spans + tag_spans + [(s, e) for s, e, _ in tokens])
    return events, covered


def _follow_jinja(tok: str, offset: int, depth: int, open_jinja: list[_OpenJinja]) -> None:
    """Keep ``open_jinja`` the Jinja blocks (for/if...) open at this point, with their MJML depth."""
    if block_start := _BLOCK_START.match(tok):
        open_jinja.append(_OpenJinja(block_start.group(1), depth, offset))
    elif _BLOCK_END.match(tok) and open_jinja:
        open_jinja.pop()


def _check_html_tag(name: str, offset: int, stack: list[tuple[str, int]], report) -> None:
    """HTML belongs in an ending tag (mj-text, mj-raw...), not directly in a layout tag."""
    if stack and stack[-1][0] not in ENDING_TAGS and stack[-1][0] not in ("mj-head", "mjml"):
        report(offset, f"HTML tag <{name}> directly inside <{stack[-1][0]}>: wrap it in <mj-text> or <mj-raw>")


def _close(name: str, offset: int, stack: list[tuple[str, int]], report) -> None:
    """``</name>`` closes the innermost open tag, or is reported for closing nothing."""
    if not stack or stack[-1][0] != name:
        report(offset, f"</{name}> closes nothing" + (f" (open: <{stack[-1][0]}>)" if stack else ""))
    else:
        stack.pop()


def _check_placement(
    name: str, offset: int, stack: list[tuple[str, int]], open_jinja: list[_OpenJinja], report
) -> None:
    """An opening tag in a parent it is not allowed in, or a column repeated or chosen by Jinja."""
    parent = stack[-1][0] if stack else None
    allowed = ALLOWED_PARENTS.get(name)
    if allowed and parent is not None and parent not in allowed and parent != "mj-attributes":
        report(offset, f"<{name}> cannot be inside <{parent}> (allowed in: {', '.join(sorted(allowed))})")
    if name not in ("mj-column", "mj-group"):
        return
    for block in open_jinja:
        if block.depth == len(stack):
            report(
                block.offset,
                f"{{% {block.kind} %}} around <{name}>: MJML computes column widths once, so the result "
                f"would be wrong for some recipients; put the {block.kind} around the whole <mj-section>, "
                "or inside the column",
            )


def _check_attributes(match: re.Match[str], tag_offset: int, tag: str, report) -> None:
    attrs_start = match.start("attrs")
    for attr in _ATTR.finditer(match.group("attrs")):
        name = attr.group("name").lower()
        value = next((v for v in (attr.group("dq"), attr.group("sq"), attr.group("bare")) if v is not None), None)
        if value is None:
            continue
        where = attrs_start + attr.start()
        if _FILL in value:
            if name in LAYOUT_ATTRIBUTES:
                report(
                    where,
                    f'Jinja in {name}="…" of <{tag}>: MJML computes layout from it at compile time, so it would '
                    "render wrong; use a fixed value, or choose between whole blocks with a rule",
                )
            continue
        if name in _COLOR_ATTRIBUTES and not _COLOR.match(value.strip()):
            report(where, f"{name}={value!r} is not a color")
        elif name in ("width", "height") and tag != "mj-body" and not _LENGTH.match(value.strip()):
            report(where, f"{name}={value!r} is not a length (e.g. 300px or 50%)")
        elif (name.startswith("padding") or name == "inner-padding") and not _PADDING.match(value.strip()):
            report(where, f"{name}={value!r} is not a padding (1 to 4 lengths)")


_WS_BETWEEN_TAGS = re.compile(r">([ \t]*\r?\n\s*)<")
_CONTENT_TAG = re.compile(
    r"(<(mj-text|mj-button|mj-table|mj-accordion-text|mj-accordion-title|mj-navbar-link|mj-social-element)\b"
    # an opening tag (never a self-closing one); a closing tag may have its ">" on the next line
    r"(?:[^>\"']|\"[^\"]*\"|'[^']*')*(?<!/)>)(.*?)(</\2\s*>)",
    re.S,
)
_ATTR_VALUE = re.compile(r"(?P<name>[\w:-]+)\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)')")


def fix_for_mrml(source: str) -> str:
    """Rewrite constructs MRML mangles into equivalents it handles (FIELD-NOTES gaps 2 and 3)."""
    # gap 3: MRML drops whitespace containing a newline between two tags; one space survives.
    # Only inside content tags: between MJML elements (mj-head above all) MRML rejects a space.
    source = _CONTENT_TAG.sub(lambda m: m.group(1) + _WS_BETWEEN_TAGS.sub("> <", m.group(3)) + m.group(4), source)

    # gap 2: newlines and double quotes in attribute values come out Rust-escaped
    def fix_tag(tag: re.Match[str]) -> str:
        text = tag.group(0)
        if "\n" not in text and "'" not in text:
            return text

        def fix_attr(attr: re.Match[str]) -> str:
            value = attr.group("dq") if attr.group("dq") is not None else attr.group("sq")
            value = re.sub(r"\s*\n\s*", " ", value).strip()
            if '"' in value:
                # in CSS both quotes mean the same; elsewhere keep the character as an entity
                css = attr.group("name").lower() in ("style", "font-family")
                value = value.replace('"', "'" if css else "&quot;")
            return f'{attr.group("name")}="{value}"'

        return _ATTR_VALUE.sub(fix_attr, text)

    source = re.sub(r"<[a-zA-Z][^<>]*>", fix_tag, source)
    # an attribute written twice: official MJML's parser keeps the first, MRML the last
    source = re.sub(r"<mj-[^<>]*>", _first_of_each_attribute, source)

    # MRML ignores a padding shorthand with a unitless 0 ("0 15px") when it computes column
    # widths (official MJML reads it as 0px): spell the unit out
    def zero_px(attr: re.Match[str]) -> str:
        return attr.group(1) + _BARE_ZERO.sub("0px", attr.group(2)) + attr.group(3)

    return re.sub(r"<mj-[^<>]*>", lambda tag: _PADDING_ATTR.sub(zero_px, tag.group(0)), source)


def _first_of_each_attribute(tag: re.Match[str]) -> str:
    text = tag.group(0)
    names = [m.group("name").lower() for m in _ATTR_VALUE.finditer(text)]
    if len(names) == len(set(names)):
        return text
    seen: set[str] = set()

    def keep_first(attr: re.Match[str]) -> str:
        name = attr.group("name").lower()
        if name in seen:
            return ""
        seen.add(name)
        return attr.group(0)

    return _ATTR_VALUE.sub(keep_first, text)


_PADDING_ATTR = re.compile(r"(\s(?:padding|padding-\w+|inner-padding)\s*=\s*\")([^\"]*)(\")")
_BARE_ZERO = re.compile(r"(?<![\w.])0(?![\w.%])")


#: MJML tags after which text is at the structural level (not content) unless the tag opens an ending tag
_MJ_TAG = re.compile(r"<(?P<close>/?)(?P<name>mjml|mj-[\w-]+)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*?(?P<self>/?)>")
_PLACEHOLDER_OR_SPACE = re.compile(r"TJ0x\d+x|\s+")
_RAW = re.compile(r"(<mj-raw\b[^>]*>)(.*?)(</mj-raw\s*>)", re.S)
RAW_OPEN, RAW_CLOSE = "<!--tailor:raw-->", "<!--/tailor:raw-->"
_MSO_OPEN, _MSO_CLOSE = "<!--[if mso | IE]>", "<![endif]-->"
_NAVBAR_LINK_END = re.compile(r'(<a\b[^>]*\bclass="mj-link"[^>]*>.*?</a>)(?=<)', re.S)


def drop_stray_text(source: str) -> str:
    """Text between MJML elements (``</mj-column>a<mj-column>``) is dropped, as official MJML does.

    MRML prints it into the page. Jinja placeholders there are kept: a ``{% if %}`` between
    sections is how a template chooses sections.
    """
    out: list[str] = []
    last = 0
    for tag in _MJ_TAG.finditer(source):
        out.append(source[last : tag.end()])
        last = tag.end()
        opens_content = not tag.group("close") and not tag.group("self") and tag.group("name") in ENDING_TAGS
        if opens_content:
            continue
        following = source.find("<", last)
        following = len(source) if following < 0 else following
        text = source[last:following]
        if text.strip():
            out.append("".join(m.group(0) for m in _PLACEHOLDER_OR_SPACE.finditer(text)))
            last = following
    out.append(source[last:])
    return "".join(out)


def mark_raw(source: str) -> str:
    """Wrap each ``mj-raw``'s content in markers so :func:`fix_mrml_output` can find it again.

    tailor's own slot sentinels (``<!--tailor:…-->`` alone in an mj-raw) are left as they are.
    """

    def mark(m: re.Match[str]) -> str:
        body = m.group(2)
        if re.fullmatch(r"\s*<!--/?tailor:[^>]*-->\s*", body):
            return m.group(0)
        return m.group(1) + RAW_OPEN + body + RAW_CLOSE + m.group(3)

    return _RAW.sub(mark, source)


def _outside_mso(html: str) -> str:
    """Move each marked mj-raw out of the Outlook-only conditional MRML puts it in.

    Between a wrapper's sections MRML writes ``<!--[if mso | IE]></td></tr>RAW<tr><td><![endif]-->``:
    the raw HTML then exists for Outlook only (and a raw conditional comment inside it breaks
    the page). Official MJML writes the raw between two conditionals; so do we.
    """
    out: list[str] = []
    inside = False  # in an Outlook-only conditional, judged from the HTML outside the raws
    pos = 0
    while (start := html.find(RAW_OPEN, pos)) >= 0 and (end := html.find(RAW_CLOSE, start)) >= 0:
        before = html[pos:start]
        opened, closed = before.rfind(_MSO_OPEN), before.rfind(_MSO_CLOSE)
        if opened != closed:  # both -1 (neither there) keeps the state
            inside = opened > closed
        raw = html[start + len(RAW_OPEN) : end]
        out.append(before)
        out.append(f"{_MSO_CLOSE}{raw}{_MSO_OPEN}" if inside else raw)
        pos = end + len(RAW_CLOSE)
    out.append(html[pos:])
    return "".join(out).replace(_MSO_OPEN + _MSO_CLOSE, "")


def fix_mrml_output(html: str) -> str:
    """Fix what MRML writes differently from official MJML (mj-raw placement, navbar spacing)."""
    html = _outside_mso(html)
    # official MJML writes each navbar link on its own line: browsers show a space between them
    return _NAVBAR_LINK_END.sub(lambda m: m.group(1) + "\n", html)


#: official MJML 4.18's defaults where MRML's differ (its accordion icons are on imgur.com)
OFFICIAL_DEFAULTS = {
    "mj-accordion": (
        'icon-wrapped-url="https://static.mailjet.com/mjml-website/documentation/accordion-arrow-down.png" '
        'icon-unwrapped-url="https://static.mailjet.com/mjml-website/documentation/accordion-arrow-up.png"'
    ),
}


def with_official_defaults(source: str) -> str:
    """Declare official MJML's defaults first in ``mj-head``: the template's own attributes still win."""
    used = [f"<{tag} {attrs} />" for tag, attrs in OFFICIAL_DEFAULTS.items() if f"<{tag}" in source]
    if not used:
        return source
    defaults = f"<mj-attributes>{''.join(used)}</mj-attributes>"
    head = re.search(r"<mj-head\b[^>]*>", source)
    if head:
        return source[: head.end()] + defaults + source[head.end() :]
    return re.sub(r"(<mjml\b[^>]*>)", lambda m: f"{m.group(1)}<mj-head>{defaults}</mj-head>", source, count=1)


_HTML_ATTRIBUTES = re.compile(r"<mj-html-attributes\b[^>]*>(.*?)</mj-html-attributes\s*>", re.S)
_SELECTOR = re.compile(r"<mj-selector\b[^>]*?\bpath\s*=\s*(?:\"([^\"]*)\"|'([^']*)')[^>]*>(.*?)</mj-selector\s*>", re.S)
_HTML_ATTRIBUTE = re.compile(
    r"<mj-html-attribute\b[^>]*?\bname\s*=\s*(?:\"([^\"]*)\"|'([^']*)')[^>]*>(.*?)</mj-html-attribute\s*>", re.S
)
_START_TAG = re.compile(
    r"<!--.*?-->|<(style|script)\b.*?</\1\s*>|<([a-zA-Z][\w:-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.S | re.I
)


def take_html_attributes(source: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Cut ``<mj-html-attributes>`` out of the head (MRML rejects it): ``(selector, name, value)`` each."""
    found: list[tuple[str, str, str]] = []
    for block in _HTML_ATTRIBUTES.finditer(source):
        for selector in _SELECTOR.finditer(block.group(1)):
            path = selector.group(1) if selector.group(1) is not None else selector.group(2)
            for attribute in _HTML_ATTRIBUTE.finditer(selector.group(3)):
                name = attribute.group(1) if attribute.group(1) is not None else attribute.group(2)
                found.append((path, name, attribute.group(3).strip()))
    return _HTML_ATTRIBUTES.sub("", source), found


def apply_html_attributes(html: str, wanted: list[tuple[str, str, str]]) -> str:
    """Set each ``mj-html-attribute`` on the elements its CSS selector matches, as official MJML does.

    lxml finds the elements; the attributes are written into the start tags of the HTML as
    it is, so nothing else of MRML's output (conditional comments above all) is re-serialized.
    """
    doc = lxml_html.document_fromstring(html)
    elements = [el for el in doc.iter() if isinstance(el.tag, str)]
    index = {id(el): i for i, el in enumerate(elements)}
    additions: dict[int, dict[str, str]] = {}
    for selector, name, value in wanted:
        for el in CSSSelector(selector)(doc):
            additions.setdefault(index[id(el)], {})[name] = value
    starts = [m for m in _START_TAG.finditer(html) if m.group(1) or m.group(2)]  # comments are no elements
    if [(m.group(2) or m.group(1)).lower() for m in starts] != [el.tag.lower() for el in elements]:
        raise MJMLError("mj-html-attributes: could not match the compiled HTML's elements")
    out: list[str] = []
    last = 0
    for position, tag in enumerate(starts):
        extra = additions.get(position)
        if not extra or not tag.group(2):
            continue
        attrs = tag.group(3)
        for name, value in extra.items():
            attrs = re.sub(rf"\s{re.escape(name)}\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", "", attrs)
            attrs = attrs.rstrip("/") + f' {name}="{value.replace(chr(34), "&quot;")}"'
        out.append(html[last : tag.start(3)] + attrs)
        last = tag.end(3)
    out.append(html[last:])
    return "".join(out)


def compile_mjml(source: str) -> str:
    """MJML → HTML with mjml-python; raises :class:`MJMLError` with MRML's message."""
    source, html_attributes = take_html_attributes(source)
    source = with_official_defaults(mark_raw(drop_stray_text(source)))
    try:
        html = fix_mrml_output(mjml2html(source, disable_comments=False))
    except ValueError as exc:
        raise MJMLError(str(exc)) from None
    return apply_html_attributes(html, html_attributes) if html_attributes else html
