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
            _follow_jinja(jinja_by_start[offset], offset, len(stack), open_jinja)
            continue
        if kind != "tag" or match is None:
            continue
        name = match.group("name").lower()
        is_mj = name == "mjml" or name.startswith("mj-")
        if in_ending and not (match.group("close") and name == stack[-1][0]):
            if name == "mj-preview" or stack[-1][0] == "mj-preview":
                report(offset, "mj-preview takes plain text only (mjml-python rejects HTML in it)")
            continue
        if not is_mj:
            _check_html_tag(name, offset, stack, report)
            continue
        if name not in KNOWN_TAGS:
            report(offset, f"unknown MJML tag <{name}>")
            continue
        if name == "mj-include":
            report(offset, 'use {% include "partials/..." %} instead of <mj-include>: includes are resolved by tailor')
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
    r"(?:[^>\"']|\"[^\"]*\"|'[^']*')*(?<!/)>)(.*?)(</\2>)",  # an opening tag, never a self-closing one
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

    return re.sub(r"<[a-zA-Z][^<>]*>", fix_tag, source)


def compile_mjml(source: str) -> str:
    """MJML → HTML with mjml-python; raises :class:`MJMLError` with MRML's message."""
    try:
        return mjml2html(source, disable_comments=False)
    except ValueError as exc:
        raise MJMLError(str(exc)) from None
