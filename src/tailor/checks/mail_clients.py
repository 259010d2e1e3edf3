"""Checks that mail clients and readers punish, on each template as it is expanded.

- a button or link without a real ``href`` (missing, empty, ``#``, ``javascript:``) goes nowhere;
- an image without ``alt`` is read out as its file name; a raw ``<img>`` without ``width``
  is shown at its natural size by Outlook, which ignores CSS widths;
- a block using an ``mj-class`` its host template does not define renders unstyled there;
- text whose colour is too close to its background (WCAG contrast below 4.5:1, 3:1 for
  large text) is hard to read, and unreadable in some dark modes.

Each problem is located in the file that holds it (a block, a partial), once however many
templates include it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Literal

from tailor.problems import Problem, did_you_mean
from tailor.rendering.mjml import Tag, tags
from tailor.rendering.source import Expanded, TemplateFile

#: tags whose ``href`` is what a reader clicks
_LINKS = {"mj-button": "button", "a": "link"}
_NOWHERE = re.compile(r"^\s*(#?|javascript:.*)$", re.I)
#: WCAG 2.1 AA: normal text, and large text (24px, or 18.66px bold)
NORMAL_CONTRAST, LARGE_CONTRAST = 4.5, 3.0
_BACKGROUNDS = {"mj-body", "mj-wrapper", "mj-section", "mj-column", "mj-hero"}
_HEX = re.compile(r"^#([0-9a-f]{3}|[0-9a-f]{6})$", re.I)


def template_problems(template: TemplateFile, expanded: Expanded) -> list[Problem]:
    """Links, images and contrast of one template (the page and its blocks)."""
    source = expanded.source
    found = tags(source)
    body = _outside_head(found)
    problems = [Problem(*expanded.locate(tag.offset), message, severity) for tag, message, severity in _links(body)]
    problems += [Problem(*expanded.locate(tag.offset), message, "warning") for tag, message in _images(body)]
    if template.kind == "mjml":
        problems += [Problem(*expanded.locate(tag.offset), message, "warning") for tag, message in _contrast(found)]
    return problems


def _outside_head(found: list[Tag]) -> list[Tag]:
    """The tags a reader gets: not the defaults and styles of ``<mj-head>``."""
    body: list[Tag] = []
    in_head = False
    for tag in found:
        if tag.name == "mj-head":
            in_head = not tag.closing
        elif not in_head:
            body.append(tag)
    return body


def _links(found: list[Tag]) -> list[tuple[Tag, str, Literal["error", "warning"]]]:
    problems: list[tuple[Tag, str, Literal["error", "warning"]]] = []
    for tag in found:
        kind = _LINKS.get(tag.name)
        if kind is None or tag.closing or "href" in tag.dynamic:
            continue
        if "href" not in tag.attrs:
            if tag.name == "a" and "name" in tag.attrs:
                continue  # an anchor, not a link
            problems.append((tag, f'a {kind} without a link goes nowhere: add href="https://…"', "error"))
        elif _NOWHERE.match(tag.attrs["href"]):
            problems.append((tag, f'a {kind} with href="{tag.attrs["href"]}" goes nowhere: link it to a page', "error"))
    return problems


def _images(found: list[Tag]) -> list[tuple[Tag, str]]:
    problems: list[tuple[Tag, str]] = []
    for tag in found:
        if tag.closing or tag.name not in ("mj-image", "img"):
            continue
        if "alt" not in tag.attrs:
            alt = 'add alt="…" (alt="" if decorative)'
            problems.append((tag, f"an image without alt text: screen readers read out its file name; {alt}"))
        if tag.name == "img" and "width" not in tag.attrs:
            problems.append((tag, 'an <img> without width="…": Outlook shows it at its full size'))
    return problems


def undefined_classes(templates: list[tuple[TemplateFile, Expanded]]) -> list[Problem]:
    """``mj-class="x"`` where the host template's ``<mj-attributes>`` defines no ``x``; one problem per use."""
    hosts: dict[tuple[str, int, int, str], list[str]] = defaultdict(list)
    known: set[str] = set()
    for template, expanded in templates:
        if template.kind != "mjml":
            continue
        found = tags(expanded.source)
        defined = {t.attrs.get("name", "") for t in found if t.name == "mj-class" and not t.closing}
        known |= defined
        for tag in found:
            for name in tag.attrs.get("mj-class", "").split() if "mj-class" not in tag.dynamic else []:
                if name not in defined:
                    hosts[(*expanded.locate(tag.offset), name)].append(template.name)
    return [
        Problem(
            path,
            line,
            col,
            f'mj-class {name!r} is not defined by {", ".join(sorted(set(names)))} (no <mj-class name="{name}"> in '
            "its <mj-attributes>): it renders unstyled there" + did_you_mean(name, known - {name}),
            "warning",
        )
        for (path, line, col, name), names in sorted(hosts.items())
    ]


def _contrast(found: list[Tag]) -> list[tuple[Tag, str]]:
    """Text colour against the background it sits on, with mj-attributes defaults applied."""
    defaults: dict[str, dict[str, str]] = defaultdict(dict)
    classes: dict[str, dict[str, str]] = {}
    backgrounds: list[tuple[str, str]] = []  # (tag, colour) of the open containers
    problems: list[tuple[Tag, str]] = []
    in_attributes = False
    for tag in found:
        if tag.name == "mj-attributes":
            in_attributes = not tag.closing
            continue
        if in_attributes:
            if tag.name == "mj-class" and not tag.closing:
                classes[tag.attrs.get("name", "")] = tag.attrs
            elif not tag.closing:
                defaults[tag.name].update(tag.attrs)
            continue
        if tag.name in _BACKGROUNDS:
            if tag.closing:
                while backgrounds and backgrounds.pop()[0] != tag.name:
                    pass
            elif not tag.self_closing:
                attrs = _resolved(tag, defaults, classes)
                backgrounds.append((tag.name, attrs.get("background-color", "")))
            continue
        if tag.closing or tag.name not in ("mj-text", "mj-button"):
            continue
        attrs = _resolved(tag, defaults, classes)
        back = attrs.get("background-color", "") if tag.name == "mj-button" else ""
        back = back or next((c for _, c in reversed(backgrounds) if c), "#ffffff")
        ratio = contrast(attrs.get("color", "#000000"), back)
        if ratio is None:
            continue
        size = _pixels(attrs.get("font-size", "13px"))
        large = size >= 24 or (size >= 18.66 and attrs.get("font-weight", "") in ("700", "bold", "800", "900"))
        needed = LARGE_CONTRAST if large else NORMAL_CONTRAST
        if ratio < needed:
            problems.append(
                (
                    tag,
                    f"text colour {attrs.get('color', '#000000')} on {back} has a contrast of {ratio:.1f}:1 "
                    f"(readable text needs {needed:g}:1): darken the text or lighten the background",
                )
            )
    return problems


def _resolved(tag: Tag, defaults: dict[str, dict[str, str]], classes: dict[str, dict[str, str]]) -> dict[str, str]:
    """The attributes a tag ends up with: mj-all, its tag's defaults, its mj-classes, then its own."""
    attrs = {**defaults.get("mj-all", {}), **defaults.get(tag.name, {})}
    for name in tag.attrs.get("mj-class", "").split():
        attrs.update({k: v for k, v in classes.get(name, {}).items() if k != "name"})
    attrs.update({k: v for k, v in tag.attrs.items() if k not in tag.dynamic})
    return attrs


def contrast(foreground: str, background: str) -> float | None:
    """WCAG contrast ratio of two ``#rgb``/``#rrggbb`` colours (None for other notations)."""
    front, back = _luminance(foreground), _luminance(background)
    if front is None or back is None:
        return None
    light, dark = max(front, back), min(front, back)
    return (light + 0.05) / (dark + 0.05)


def _luminance(colour: str) -> float | None:
    match = _HEX.match(colour.strip())
    if match is None:
        return None
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _pixels(value: str) -> float:
    match = re.match(r"\s*(\d+(?:\.\d+)?)", value)
    return float(match.group(1)) if match else 13.0
