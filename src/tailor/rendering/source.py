"""Template sources: discovery, front matter, and compile-time expansion of includes and slots.

``{% include "partials/x.mjml" %}`` and MJML's own ``<mj-include path="…">`` are resolved
here, before the MJML compile, so that MRML sees every tag. ``mj-include`` follows official
MJML 4.18: the path is relative to the including file (the extension is not guessed), an
included ``<mjml>`` document gives its body in place and its head to the end of the page's ``<mj-head>``,
``type="css"`` becomes an ``<mj-style>`` (``css-inline="inline"``: an inlined one) and
``type="html"`` an ``<mj-raw>``. Every file a template names —
an include, a slot's block, the template itself and its settings file — must resolve
inside ``templates/`` after symlinks are followed (:func:`confined_path`): a marketer
with write access to ``templates/`` must not be able to read ``/proc/self/environ`` or
``tailor.toml`` into an email. ``{% slot "hero" %}`` expands
to every block the rules may choose, each between sentinels the compiler cuts out
after the MJML compile so each block renders (and fails) on its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tailor.problems import Problem
from tailor.yamlmarks import load_marked, syntax_problem

TEMPLATE_SUFFIXES = (".mjml", ".html")
RESERVED_DIRS = ("partials", "blocks")

# ``{%-``/``{%+`` and ``-%}``/``+%}`` are Jinja's whitespace controls
INCLUDE_TAG = re.compile(r"\{%[-+]?\s*include\s+(?P<target>[^%]*?)\s*[-+]?%\}", re.S)
SLOT_TAG = re.compile(r"\{%[-+]?\s*slot\s+(?P<args>[^%]*?)\s*[-+]?%\}", re.S)
_LITERAL = re.compile(r"""^(["'])(?P<path>[^"']+)\1(?P<rest>(\s+ignore\s+missing)?(\s+with(out)?\s+context)?)$""")
_SLOT_ARGS = re.compile(
    r"""^(?P<q>["'])(?P<name>[\w-]+)(?P=q)(\s+default\s*=\s*(?P<dq>["'])(?P<default>[\w/-]+)(?P=dq))?$"""
)
MJ_INCLUDE_TAG = re.compile(
    r"<mj-include\b(?P<mj_attrs>(?:[^>\"'/]|\"[^\"]*\"|'[^']*'|/(?!\s*>))*)/?\s*>(?:\s*</mj-include\s*>)?"
)
_MJ_ATTR = re.compile(r"(?P<name>[\w-]+)\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)')")
_MJ_PART = re.compile(r"<(?P<tag>mj-head|mj-body)\b[^>]*>(?P<inner>.*)</(?P=tag)\s*>", re.S)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?P<yaml>.*?)^---[ \t]*\r?\n", re.S | re.M)

SLOT_OPEN = "<!--tailor:slot {}-->"
SLOT_CLOSE = "<!--/tailor:slot {}-->"
BLOCK_OPEN = "<!--tailor:block {}-->"
BLOCK_CLOSE = "<!--/tailor:block-->"
_BLOCK_OPEN_MARK = BLOCK_OPEN.split("{")[0]


def confined_path(root: Path, name: str | Path) -> Path | None:
    """``root/name`` with symlinks followed, or None when that lands outside ``root``.

    ``root / "/etc/passwd"`` is ``/etc/passwd`` and ``..`` climbs out; a symlink in
    ``templates/`` may point anywhere. Resolving first and comparing after closes all three.
    """
    base = root.resolve()
    target = (root / name).resolve()
    return target if target.is_relative_to(base) else None


def outside_message(name: str | Path) -> str:
    return f"{str(name)!r} is outside the templates folder (templates may only use files inside it)"


def block_file(templates_dir: Path, block: str) -> Path:
    """Where block ``hero/generic`` lives: ``templates/blocks/hero/generic.mjml`` (or ``.html``)."""
    base = templates_dir / "blocks" / block
    html = base.with_name(base.name + ".html")
    return html if html.is_file() else base.with_name(base.name + ".mjml")


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


@dataclass
class TemplateFile:
    """One template as the marketer wrote it: body, settings, and where each came from."""

    name: str
    path: Path
    body: str
    body_offset: int
    settings: dict[str, Any]
    kind: str  # "mjml" or "html"
    text: str = ""


def discover(templates_dir: Path) -> dict[str, Path]:
    """Template name → file, for every ``*.mjml``/``*.html`` at the top of ``templates_dir``."""
    found: dict[str, Path] = {}
    if not templates_dir.is_dir():
        return found
    for path in sorted(templates_dir.iterdir()):
        if path.is_file() and path.suffix in TEMPLATE_SUFFIXES and not path.name.startswith("."):
            found.setdefault(path.stem, path)
    return found


def read_template(
    path: Path, name: str | None = None, templates_dir: Path | None = None
) -> tuple[TemplateFile | None, list[Problem]]:
    """Read a template file, its front matter and sibling ``<name>.yaml`` (both inside ``templates_dir``)."""
    problems: list[Problem] = []
    if templates_dir is not None and confined_path(templates_dir, path) is None:
        return None, [Problem(str(path), 1, 1, "the template links to a file outside the templates folder")]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), 1, 1, f"not UTF-8 text: {exc.reason}")]
    settings: dict[str, Any] = {}
    body, offset = text, 0
    match = _FRONT_MATTER.match(text)
    if match:
        loaded, problem = _load_yaml(match.group("yaml"), str(path), line_offset=1)
        if problem:
            problems.append(problem)
        settings.update(loaded)
        body, offset = text[match.end() :], match.end()
    sibling = path.with_suffix(".yaml")
    if sibling.is_file() and templates_dir is not None and confined_path(templates_dir, sibling) is None:
        problems.append(Problem(str(sibling), 1, 1, "the settings file links to a file outside the templates folder"))
    elif sibling.is_file():
        loaded, problem = _load_yaml(sibling.read_text(encoding="utf-8"), str(sibling))
        if problem:
            problems.append(problem)
        settings.update(loaded)
    for key in settings:
        if key not in TEMPLATE_SETTINGS:
            problems.append(
                Problem(
                    str(path), 1, 1, f"unknown template setting {key!r} (known: {', '.join(sorted(TEMPLATE_SETTINGS))})"
                )
            )
    kind = "mjml" if path.suffix == ".mjml" or body.lstrip().startswith("<mjml") else "html"
    return TemplateFile(name or path.stem, path, body, offset, settings, kind, text), problems


TEMPLATE_SETTINGS = {
    "subject",
    "preheader",
    "utm",
    "recs",
    "description",
    "rules",
    "slots",
    "experiment",
    # the send-time data the ESP passes (`context.*`), declared so `tailor check` knows the names
    "context",
    # `true`: a transactional email (order confirmation…): the frequency cap neither counts nor caps it
    "transactional",
}


def _load_yaml(text: str, path: str, line_offset: int = 0) -> tuple[dict[str, Any], Problem | None]:
    try:
        data = load_marked(text) or {}
    except yaml.YAMLError as exc:
        return {}, syntax_problem(path, exc, line_offset, text)
    if not isinstance(data, dict):
        return {}, Problem(path, 1 + line_offset, 1, "front matter must be a mapping of settings")
    return data, None


@dataclass
class Segment:
    """A piece of expanded source and the file offset it came from (None: synthetic)."""

    text: str
    path: Path | None
    offset: int


@dataclass
class Expanded:
    """A template with every include and slot spelled out, plus an origin map for errors."""

    segments: list[Segment] = field(default_factory=list)
    files: dict[Path, str] = field(default_factory=dict)
    slots: dict[str, list[str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    #: what ``mj-include`` brings into the page's ``<mj-head>`` (styles, included heads)
    head: list[Segment] = field(default_factory=list)

    @property
    def source(self) -> str:
        return "".join(s.text for s in self.segments)

    def locate(self, offset: int) -> tuple[str, int, int]:
        """``(path, line, col)`` of a character offset in :attr:`source`."""
        pos = 0
        last: Segment | None = None
        for seg in self.segments:
            if pos + len(seg.text) > offset and seg.path is not None:
                line, col = line_col(self.files[seg.path], seg.offset + (offset - pos))
                return str(seg.path), line, col
            if seg.path is not None:
                last = seg
            pos += len(seg.text)
        if last is not None and last.path is not None:
            line, col = line_col(self.files[last.path], last.offset + len(last.text))
            return str(last.path), line, col
        return "<template>", 1, 1

    def locate_on_line(self, lineno: int, pattern: re.Pattern[str] | None = None) -> tuple[str, int, int]:
        """``(path, line, col)`` of the first ``pattern`` match on line ``lineno`` of :attr:`source`.

        Jinja nodes carry only a line number; the pattern (a name, a filter) finds the column.
        Without a pattern, or when it is not on that line: the line's first tag.
        """
        lines = self.source.split("\n")
        lineno = min(max(lineno, 1), len(lines))
        line = lines[lineno - 1]
        found = pattern.search(line) if pattern is not None else None
        col = found.start() if found is not None else max(line.find("{"), 0)
        return self.locate(sum(len(text) + 1 for text in lines[: lineno - 1]) + col)

    def pieces(self) -> list[tuple[str | None, Expanded]]:
        """The page (``None``) and each slot block, as each renders: on its own.

        A block is compiled as its own Jinja template, so its names, tags and errors are
        its own; checking it apart from the page keeps an error inside it from being
        reported where Jinja gave up (often in the page's next file).
        """
        page = Expanded(files=self.files)
        found: list[tuple[str | None, Expanded]] = [(None, page)]
        current = page
        for seg in self.segments:
            if seg.path is None and _BLOCK_OPEN_MARK in seg.text:
                name = seg.text.split(_BLOCK_OPEN_MARK, 1)[1].split("-->", 1)[0]
                current = Expanded(files=self.files)
                found.append((name, current))
                continue
            if seg.path is None and BLOCK_CLOSE in seg.text:
                current = page
                continue
            current.segments.append(seg)
        return found

    def version(self, *extra: str) -> str:
        """Content hash of the template and everything it pulls in."""
        digest = hashlib.sha256()
        for path in sorted(self.files, key=str):
            digest.update(str(path).encode())
            digest.update(self.files[path].encode())
        digest.update(self.source.encode())
        for item in extra:
            digest.update(item.encode())
        return digest.hexdigest()[:16]


#: slot name -> candidate blocks, default first (from the rules)
SlotResolver = Callable[[str], tuple[list[str], str | None]]


class Expander:
    """Spells out includes and slots of one template, collecting problems with positions."""

    max_depth = 20

    def __init__(self, templates_dir: Path, slot_resolver: SlotResolver | None = None, *, mjml: bool = True):
        self.templates_dir = templates_dir
        self.mjml = mjml
        # sentinels must be mj-raw inside MJML so MRML keeps them where they are
        self._wrap = "<mj-raw>{}</mj-raw>" if mjml else "{}"
        self.slot_resolver = slot_resolver or (lambda slot: ([], None))
        self.problems: list[Problem] = []

    def expand(self, template: TemplateFile) -> Expanded:
        result = Expanded()
        result.files[template.path] = template.text
        self._expand_text(template.body, template.path, template.body_offset, result, depth=0, stack=(template.path,))
        if result.head:
            _insert_head(result)
        return result

    def _expand_text(
        self,
        text: str,
        path: Path,
        base: int,
        out: Expanded,
        *,
        depth: int,
        stack: tuple[Path, ...],
        in_block: bool = False,
    ) -> None:
        mj_include = f"|{MJ_INCLUDE_TAG.pattern}" if self.mjml else ""
        pattern = re.compile(f"{INCLUDE_TAG.pattern}|{SLOT_TAG.pattern}{mj_include}", re.S)
        last = 0
        for match in pattern.finditer(text):
            out.segments.append(Segment(text[last : match.start()], path, base + last))
            last = match.end()
            where = line_col(out.files[path], base + match.start())
            if match.groupdict().get("mj_attrs") is not None:
                self._mj_include(match.group("mj_attrs"), path, where, out, depth=depth, stack=stack, in_block=in_block)
            elif match.group("target") is not None:
                self._include(match.group("target"), path, where, out, depth=depth, stack=stack, in_block=in_block)
            else:
                if in_block:
                    self.problems.append(Problem(str(path), *where, "a block cannot contain another slot"))
                    continue
                self._slot(match.group("args"), path, base + match.start(), where, out, depth=depth, stack=stack)
        out.segments.append(Segment(text[last:], path, base + last))

    def _include(
        self,
        target: str,
        path: Path,
        where: tuple[int, int],
        out: Expanded,
        *,
        depth: int,
        stack: tuple[Path, ...],
        in_block: bool,
    ) -> None:
        literal = _LITERAL.match(target.strip())
        if not literal:
            self.problems.append(
                Problem(
                    str(path),
                    *where,
                    f"include needs a quoted file name (got {target.strip()!r}): includes are resolved when the "
                    "template compiles",
                )
            )
            return
        optional = "ignore missing" in (literal.group("rest") or "")
        confined = confined_path(self.templates_dir, literal.group("path"))
        if confined is None:
            self.problems.append(Problem(str(path), *where, f"include: {outside_message(literal.group('path'))}"))
            return
        included = self.templates_dir / literal.group("path")
        if not included.is_file():
            if not optional:
                self.problems.append(
                    Problem(
                        str(path), *where, f"included file {literal.group('path')!r} not found in {self.templates_dir}"
                    )
                )
            return
        if included in stack or depth >= self.max_depth:
            self.problems.append(
                Problem(str(path), *where, f"include cycle: {' -> '.join(p.name for p in (*stack, included))}")
            )
            return
        content = included.read_text(encoding="utf-8")
        out.files[included] = content
        self._expand_text(content, included, 0, out, depth=depth + 1, stack=(*stack, included), in_block=in_block)

    def _mj_include(
        self,
        attrs_text: str,
        path: Path,
        where: tuple[int, int],
        out: Expanded,
        *,
        depth: int,
        stack: tuple[Path, ...],
        in_block: bool,
    ) -> None:
        """``<mj-include path="…" [type="css|html|mjml"] [css-inline="inline"]>``, as official MJML does it."""
        attrs = {
            m.group("name"): m.group("dq") if m.group("dq") is not None else m.group("sq")
            for m in _MJ_ATTR.finditer(attrs_text)
        }
        target = attrs.get("path", "").strip()
        kind = attrs.get("type", "mjml")
        if not target or "{" in target:
            self.problems.append(
                Problem(str(path), *where, 'mj-include needs a literal path="…" (resolved when the template compiles)')
            )
            return
        if kind not in ("mjml", "css", "html"):
            self.problems.append(
                Problem(str(path), *where, f'mj-include type={kind!r}: use type="mjml", "css" or "html"')
            )
            return
        wanted = (path.parent / target).absolute()
        included = confined_path(self.templates_dir, wanted)
        if included is None:
            self.problems.append(Problem(str(path), *where, f"mj-include: {outside_message(target)}"))
            return
        if not included.is_file():
            self.problems.append(
                Problem(str(path), *where, f"mj-include: file {target!r} not found (looked for {wanted})")
            )
            return
        if included in {p.resolve() for p in stack} or depth >= self.max_depth:
            chain = " -> ".join(p.name for p in (*stack, included))
            self.problems.append(Problem(str(path), *where, f"include cycle: {chain}"))
            return
        content = included.read_text(encoding="utf-8")
        out.files[included] = content
        nested = (*stack, included)
        if kind == "css":
            inline = ' inline="inline"' if attrs.get("css-inline") == "inline" else ""
            out.head.append(Segment(f"<mj-style{inline}>", None, 0))
            out.head.append(Segment(content, included, 0))
            out.head.append(Segment("</mj-style>", None, 0))
            return
        if kind == "html":
            out.segments.append(Segment("<mj-raw>", None, 0))
            self._expand_text(content, included, 0, out, depth=depth + 1, stack=nested, in_block=in_block)
            out.segments.append(Segment("</mj-raw>", None, 0))
            return
        parts = {m.group("tag"): m for m in _MJ_PART.finditer(content)}
        if not parts:  # a fragment: included as it is
            self._expand_text(content, included, 0, out, depth=depth + 1, stack=nested, in_block=in_block)
            return
        if "mj-head" in parts:
            head = parts["mj-head"]
            # the included head's parts go to the page's head (expanded into a scratch page first)
            scratch = Expanded(files=out.files)
            inner = head.group("inner")
            self._expand_text(
                inner, included, head.start("inner"), scratch, depth=depth + 1, stack=nested, in_block=in_block
            )
            out.head.extend(scratch.head + scratch.segments)
        if "mj-body" in parts:
            body = parts["mj-body"]
            self._expand_text(
                body.group("inner"),
                included,
                body.start("inner"),
                out,
                depth=depth + 1,
                stack=nested,
                in_block=in_block,
            )

    def _slot(
        self,
        args: str,
        path: Path,
        offset: int,
        where: tuple[int, int],
        out: Expanded,
        *,
        depth: int,
        stack: tuple[Path, ...],
    ) -> None:
        parsed = _SLOT_ARGS.match(args.strip())
        if not parsed:
            self.problems.append(
                Problem(
                    str(path),
                    *where,
                    f'slot needs a quoted name, e.g. {{% slot "hero" default="hero/generic" %}} (got {args.strip()!r})',
                )
            )
            return
        name = parsed.group("name")
        candidates, default = self.slot_resolver(name)
        default = default or parsed.group("default")
        if default is None:
            self.problems.append(
                Problem(
                    str(path),
                    *where,
                    f'slot {name!r} has no default block: add default="{name}/..." '
                    f"or a rules file with `slot: {name}` and `default:`",
                )
            )
            return
        blocks = [default] + [b for b in candidates if b != default]
        out.slots[name] = blocks
        out.defaults[name] = default
        out.segments.append(Segment(self._wrap.format(SLOT_OPEN.format(name)), None, offset))
        for block in blocks:
            block_path = block_file(self.templates_dir, block)
            if confined_path(self.templates_dir, block_path) is None:
                self.problems.append(Problem(str(path), *where, f"slot {name!r}: block {outside_message(block)}"))
                continue
            if not block_path.is_file():
                self.problems.append(
                    Problem(str(path), *where, f"slot {name!r}: block {block!r} not found (expected {block_path})")
                )
                continue
            content = block_path.read_text(encoding="utf-8")
            out.files[block_path] = content
            out.segments.append(Segment(self._wrap.format(BLOCK_OPEN.format(block)), None, offset))
            self._expand_text(content, block_path, 0, out, depth=depth + 1, stack=(*stack, block_path), in_block=True)
            out.segments.append(Segment(self._wrap.format(BLOCK_CLOSE), None, offset))
        out.segments.append(Segment(self._wrap.format(SLOT_CLOSE.format(name)), None, offset))


_HEAD_CLOSE = re.compile(r"</mj-head\s*>")
_MJML_OPEN = re.compile(r"<mjml\b[^>]*>")


def _insert_head(expanded: Expanded) -> None:
    """Put what mj-include brought for the head at the end of the page's ``<mj-head>`` (made if missing).

    Last, as official MJML does: an included ``mj-attributes`` overrides the page's own.
    """
    for opening, wrap in ((_HEAD_CLOSE, False), (_MJML_OPEN, True)):
        for index, seg in enumerate(expanded.segments):
            found = opening.search(seg.text) if seg.path is not None else None
            if found is None:
                continue
            cut = found.end() if wrap else found.start()
            head = expanded.head
            if wrap:
                head = [Segment("<mj-head>", None, 0), *head, Segment("</mj-head>", None, 0)]
            expanded.segments[index : index + 1] = [
                Segment(seg.text[:cut], seg.path, seg.offset),
                *head,
                Segment(seg.text[cut:], seg.path, seg.offset + cut),
            ]
            expanded.head = []
            return
