"""Compile once per template version; render per recipient with Jinja only.

A template version is the content hash of the template, every file it pulls in and the
blocks its slots may choose. Compiling a version runs, once:

    expand includes/slots → lint → MJML → CSS inline → tag links → cut slot blocks out
    → HTML→text → compile every piece as a sandboxed Jinja template

so a render is a handful of Jinja renders of finished HTML. Each piece's text part prints
the values its HTML part computed instead of computing them again (``replay.py``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, nodes
from jinja2.parser import Parser
from markupsafe import Markup

from tailor.problems import Problem, ProblemError, did_you_mean
from tailor.rendering.diskcache import CompiledCache
from tailor.rendering.environment import make_environment, render_capped, with_globals
from tailor.rendering.fallbacks import record_fallback
from tailor.rendering.filters import tag_url
from tailor.rendering.formatting import Formatting, formatting_as
from tailor.rendering.inline import inline_css
from tailor.rendering.mjml import MJMLError, compile_mjml, fix_for_mrml, lint
from tailor.rendering.replay import STORE, Sources, compile_code, marked_sources, new_store
from tailor.rendering.source import (
    SLOT_CLOSE,
    SLOT_OPEN,
    Expanded,
    Expander,
    SlotResolver,
    TemplateFile,
    confined_path,
    discover,
    line_col,
    outside_message,
    read_template,
)
from tailor.rendering.text import html_template_to_text_pieces
from tailor.rendering.tokens import BLOCK_TAGS, JINJA_TOKEN, OUTPUT_TOKEN, TAG_WORD, TokenVault
from tailor.sandbox import RenderTimeLimit, render_limits
from tailor.watch import FolderWatch

# 2: printed values tested inline (ShownCodeGenerator); 3: the text part replays the HTML part's values (replay.py)
COMPILER_VERSION = "3"

# closing tags may carry their ">" on the next line (Prettier writes MJML that way)
_TITLE = re.compile(r"<mj-title\s*>(.*?)</mj-title\s*>", re.S)
_PREVIEW = re.compile(r"<mj-preview\s*>(.*?)</mj-preview\s*>", re.S)
_INLINE_MJ_STYLE = re.compile(r"<mj-style\b[^>]*\binline=[\"']inline[\"'][^>]*>")
#: a style block, or a conditional comment holding one (kept whole: a placeholder comment
#: inside a conditional comment would end it early and leave ``<!--[endif]---->`` for Outlook)
_STYLE_BLOCK = re.compile(
    r"<!--\[if [^\]]*\]>(?:(?!<!\[endif\]-->).)*?<style\b.*?<!\[endif\]-->|<style\b[^>]*>.*?</style>", re.S | re.I
)
INLINE_MARK = "/*tailor:inline*/"
_HREF = re.compile(r"(?P<pre>\shref=)(?P<q>[\"'])(?P<url>.*?)(?P=q)", re.S)
#: MJML's ``<html lang="und" dir="auto">`` when the template names no language: the recipient's, per render
_UNDETERMINED_LANG = re.compile(r'(<html\b[^>]*?\slang=)"und"')
_AUTO_DIR = re.compile(r'(<html\b[^>]*?\sdir=)"auto"')
#: the one name the compiled page reads besides the recipient's data (a :class:`PageParts`)
PAGE = "__page"


def slot_placeholder(slot: str) -> str:
    """What stands in the compiled page for the block a slot renders."""
    return "{{ " + PAGE + ".slot_html['" + slot + "'] }}"


class UnknownTemplate(LookupError):
    """No template of that name in the templates directory."""


@dataclass
class SlotBlocks:
    """The compiled alternatives of one slot."""

    default: str
    html: dict[str, Any] = field(default_factory=dict)
    text: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PageParts:
    """What the compiled page reads besides the recipient's data, filled in per render."""

    subject: str
    preheader: str
    #: ``<html lang>`` and ``dir`` of the recipient's locale
    lang: str
    direction: str
    slot_html: Mapping[str, Markup]
    slot_text: Mapping[str, str]


@dataclass
class RenderedParts:
    subject: str
    preheader: str
    html: str
    text: str
    blocks: dict[str, str]


@dataclass
class CompiledTemplate:
    """One template version, ready to render per recipient."""

    name: str
    version: str
    settings: dict[str, Any]
    html: Any
    text: Any
    subject: Any
    preheader: Any
    slots: dict[str, SlotBlocks]
    html_source: str
    text_source: str
    files: list[str]
    #: query parameters every link gets (empty with ``utm: false``)
    utm: dict[str, str] = field(default_factory=dict)

    @property
    def slot_names(self) -> list[str]:
        return list(self.slots)

    def mentions(self, name: str) -> bool:
        """Whether the page or any of its blocks reads variable ``name`` (e.g. ``recs``)."""
        pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
        sources = [self.html_source, *(src for slot in self.slots.values() for src in slot.sources.values())]
        return any(pattern.search(tok) for src in sources for tok in JINJA_TOKEN.findall(src))

    def render(
        self,
        context: Mapping[str, Any],
        blocks: Mapping[str, str] | None = None,
        *,
        text: bool = True,
        formatting: Formatting | None = None,
    ) -> RenderedParts:
        """Render every part for one recipient; ``blocks`` is the block chosen per slot.

        ``formatting`` is the recipient's locale, time zone and currency (the defaults when
        not given); ``text=False`` skips the plain-text part (for callers that only need HTML).
        """
        formatting = formatting or Formatting()
        if formatting.utm is None:
            formatting = replace(formatting, utm=self.utm)
        # one deadline and budget for every part (each part would otherwise open and close its own)
        with formatting_as(formatting), render_limits():
            return self._render(context, dict(blocks or {}), text, formatting)

    def _render(
        self, context: Mapping[str, Any], chosen: dict[str, str], text: bool, formatting: Formatting
    ) -> RenderedParts:
        # one context dict for every part (the parts' environments share their globals)
        ctx = with_globals(self.html, context)
        subject = _one_line(render_capped(self.subject, ctx, with_globals=True)) if self.subject else ""
        preheader = _one_line(render_capped(self.preheader, ctx, with_globals=True)) if self.preheader else ""
        slot_html: dict[str, Markup] = {}
        slot_text: dict[str, str] = {}
        used: dict[str, str] = {}
        for slot, alternatives in self.slots.items():
            wanted = chosen.get(slot) or alternatives.default
            if wanted not in alternatives.html:
                record_fallback(
                    "unknown-block",
                    f"slot {slot!r}: block {wanted!r} is not compiled into this template; used the default",
                    slot=slot,
                )
                wanted = alternatives.default
            for attempt in dict.fromkeys([wanted, alternatives.default]):
                ctx[STORE] = new_store(text)  # the values the block's text part takes from its HTML part
                try:
                    html_part = render_capped(alternatives.html[attempt], ctx, with_globals=True)
                    text_part = render_capped(alternatives.text[attempt], ctx, with_globals=True) if text else ""
                except RenderTimeLimit:
                    raise  # the render's time is spent: no default block can be rendered in it
                except Exception as exc:  # a broken block (or one over a size cap) must not break the send
                    record_fallback(
                        "block-failed",
                        f"slot {slot!r}: block {attempt!r} failed ({type(exc).__name__}: {exc}); used the default",
                        slot=slot,
                        block=attempt,
                    )
                    continue
                slot_html[slot], slot_text[slot], used[slot] = Markup(html_part), text_part, attempt
                break
            else:
                record_fallback("slot-hidden", f"slot {slot!r}: no block could render; the slot is empty", slot=slot)
                slot_html[slot], slot_text[slot], used[slot] = Markup(""), "", ""
        ctx[PAGE] = PageParts(subject, preheader, formatting.lang, formatting.direction, slot_html, slot_text)
        ctx[STORE] = new_store(text)
        html = render_capped(self.html, ctx, with_globals=True)
        text_part = _tidy_text(render_capped(self.text, ctx, with_globals=True)) if text else ""
        return RenderedParts(subject, preheader, html, text_part, used)


def utm_params(template: str, settings: Mapping[str, Any]) -> dict[str, str]:
    """The query parameters a template's links get: tailor's defaults, then its ``utm:`` setting."""
    utm = settings.get("utm", True)
    if utm is False:
        return {}
    params = {"utm_source": "tailor", "utm_medium": "email", "utm_campaign": template}
    if isinstance(utm, dict):
        params.update({k: str(v) for k, v in utm.items() if v is not None})
    return params


#: control characters that are not whitespace (whitespace is collapsed by :func:`_one_line`)
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def _one_line(text: str) -> str:
    """A subject or preheader: one line of text. Profile data once carried a NUL or an ESC
    into it, which no mail header may hold (the SMTP sender refused the email)."""
    return " ".join(_CONTROLS.sub("", text).split())


def _tidy_text(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row (what skipped blocks leave)."""
    lines: list[str] = []
    blank = True
    for line in text.split("\n"):
        line = line.rstrip()
        if line or not blank:
            lines.append(line)
        blank = not line
    return "\n".join(lines).strip() + "\n"


class Compiler:
    """Compiles templates from a directory and caches them by version."""

    def __init__(
        self,
        templates_dir: Path,
        *,
        inliner: str = "css-inline",
        slot_resolver: SlotResolver | None = None,
        watch: FolderWatch | None = None,
        errors: dict[str, list[Problem]] | None = None,
        cache_dir: Path | None = None,
    ):
        self.templates_dir = Path(templates_dir)
        #: the change detector: the workspace's (templates and rules: the rules choose slot
        #: blocks), or the templates folder alone for a compiler on its own
        self.watch = watch or FolderWatch((self.templates_dir,))
        #: compiled versions on disk, shared with other processes (None: in memory only)
        self.disk = CompiledCache(cache_dir) if cache_dir is not None else None
        self.inliner = inliner
        self.slot_resolver = slot_resolver
        self.html_env = make_environment(self.templates_dir, autoescape=True)
        self.text_env = make_environment(self.templates_dir, autoescape=False)
        self._cache: dict[tuple[str, str], CompiledTemplate] = {}
        self._current: dict[str, tuple[tuple, CompiledTemplate]] = {}
        self._lock = threading.Lock()
        #: template -> problems of a broken edit while an earlier version keeps serving
        #: (the workspace passes its registry of broken edits)
        self.errors: dict[str, list[Problem]] = {} if errors is None else errors

    def names(self) -> list[str]:
        return sorted(discover(self.templates_dir))

    def path_of(self, name: str) -> Path:
        found = discover(self.templates_dir)
        if name not in found:
            known = ", ".join(sorted(found)) or "none"
            raise UnknownTemplate(f"unknown template {name!r} in {self.templates_dir} (known: {known})")
        return found[name]

    def get(self, name: str) -> CompiledTemplate:
        """The compiled current version of ``name``.

        When :attr:`watch` says the files changed, the new version compiles. If the new
        version is broken and an earlier one compiled, the earlier one keeps serving and
        :attr:`errors` says why.
        """
        stamp = self.watch.stamp()
        current = self._current.get(name)
        if current is not None and (current[0] is stamp or current[0] == stamp):
            return current[1]
        try:
            compiled = self.compile_fresh(name)
        except ProblemError as exc:
            if current is None:
                raise
            self.errors[name] = exc.problems
            self._current[name] = (stamp, current[1])
            return current[1]
        self.errors.pop(name, None)
        self._current[name] = (stamp, compiled)
        return compiled

    def compile_fresh(self, name: str) -> CompiledTemplate:
        """Compile ``name`` from the files as they are now (cached by content version)."""
        template, expanded = self._expand(name)
        version = expanded.version(COMPILER_VERSION, self.inliner, repr(sorted(template.settings.items(), key=str)))
        key = (name, version)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._from_disk(template, version) or self._compile_and_store(
                    template, expanded, version
                )
            return self._cache[key]

    def _compile_and_store(self, template: TemplateFile, expanded: Expanded, version: str) -> CompiledTemplate:
        compiled = self._compile(template, expanded, version)
        if self.disk is not None:
            self.disk.save(template.name, version, _disk_record(compiled))
        return compiled

    def _from_disk(self, template: TemplateFile, version: str) -> CompiledTemplate | None:
        """The version as compiled by an earlier process (it compiled without problems then)."""
        record = self.disk.load(template.name, version) if self.disk is not None else None
        if record is None:
            return None
        code = record["code"]

        def piece(env: Any, key: str) -> Any:
            return env.template_class.from_code(env, code[key], env.make_globals(None), None)

        slots = {}
        for slot, stored in record["slots"].items():
            blocks = SlotBlocks(default=stored["default"], sources=stored["sources"])
            for block in stored["sources"]:
                blocks.html[block] = piece(self.html_env, f"slot {slot} {block} html")
                blocks.text[block] = piece(self.text_env, f"slot {slot} {block} text")
            slots[slot] = blocks
        return CompiledTemplate(
            name=template.name,
            version=version,
            settings=record["settings"],
            html=piece(self.html_env, "html"),
            text=piece(self.text_env, "text"),
            subject=piece(self.text_env, "subject"),
            preheader=piece(self.text_env, "preheader") if "preheader" in code else None,
            slots=slots,
            html_source=record["html_source"],
            text_source=record["text_source"],
            files=record["files"],
            utm=record["utm"],
        )

    def check(self, name: str) -> list[Problem]:
        """Every problem that would stop ``name`` from compiling now (empty when it compiles)."""
        try:
            self.compile_fresh(name)
        except ProblemError as exc:
            return exc.problems
        return []

    # -- compile steps -------------------------------------------------------------

    def expand(self, name: str) -> tuple[TemplateFile, Expanded]:
        """The template file and its expanded source (raises :class:`ProblemError` when it cannot expand)."""
        return self._expand(name)

    def _expand(self, name: str) -> tuple[TemplateFile, Expanded]:
        path = self.path_of(name)
        template, problems = read_template(path, name, self.templates_dir)
        if template is None:
            raise ProblemError(problems)
        expander = Expander(self.templates_dir, self.slot_resolver, mjml=template.kind == "mjml")
        expanded = expander.expand(template)
        problems += expander.problems
        if problems:
            raise ProblemError(problems)
        return template, expanded

    def _compile(self, template: TemplateFile, expanded: Expanded, version: str) -> CompiledTemplate:
        source = expanded.source
        settings = dict(template.settings)
        subject_src = settings.get("subject")
        preheader_src = settings.get("preheader")
        problems = self._jinja_syntax(expanded, template)
        if problems:
            raise ProblemError(problems)
        source = placed_outputs(source, lambda offset: self._where(*expanded.locate(offset)[:2]))
        if isinstance(subject_src, str):
            subject_src = self._placed_setting(template, "subject", subject_src)
        if isinstance(preheader_src, str):
            preheader_src = self._placed_setting(template, "preheader", preheader_src)
        if template.kind == "mjml":
            problems = lint(expanded)
            if problems:
                raise ProblemError(problems)
            title = _TITLE.search(source)
            preview = _PREVIEW.search(source)
            if subject_src is None and title:
                subject_src = title.group(1).strip()
            if preheader_src is None and preview:
                preheader_src = preview.group(1).strip()
            source = self._head_with(
                source, subject_src is not None and not title, preheader_src is not None and not preview
            )
            source = _INLINE_MJ_STYLE.sub(lambda m: m.group(0) + INLINE_MARK, source)
            html = self._mjml_to_html(source, template)
            html = _UNDETERMINED_LANG.sub(r'\1"{{ ' + PAGE + '.lang }}"', html, count=1)
            html = _AUTO_DIR.sub(r'\1"{{ ' + PAGE + '.direction }}"', html, count=1)
        else:
            html = source
            if subject_src is None:
                match = re.search(r"<title>(.*?)</title>", source, re.S)
                subject_src = match.group(1).strip() if match else None
        if subject_src is None:
            raise ProblemError(
                [Problem(str(template.path), 1, 1, "no subject: add `subject:` front matter or an <mj-title>")]
            )
        html = self._inline(html, template)
        if settings.get("utm", True) is not False:
            html = _tag_links(html, utm_params(template.name, settings))
        html, slot_html = _cut_slots(html, list(expanded.slots))
        page = self._sources(html)
        text_source = page.plain_text
        slots: dict[str, SlotBlocks] = {}
        for slot, blocks in slot_html.items():
            compiled = SlotBlocks(default=expanded.defaults[slot])
            for block, block_html in blocks.items():
                compiled.sources[block] = block_html
                block_sources = self._sources(block_html)
                compiled.html[block] = self._jinja(self.html_env, block_sources.html, template, f"block {block}")
                compiled.text[block] = self._jinja(self.text_env, block_sources.text, template, f"block {block} (text)")
            slots[slot] = compiled
        return CompiledTemplate(
            name=template.name,
            version=version,
            settings=settings,
            html=self._jinja(self.html_env, page.html, template, "html"),
            text=self._jinja(self.text_env, page.text, template, "text"),
            subject=self._jinja(self.text_env, str(subject_src), template, "subject"),
            preheader=self._jinja(self.text_env, str(preheader_src), template, "preheader") if preheader_src else None,
            slots=slots,
            html_source=html,
            text_source=text_source,
            files=[str(p) for p in expanded.files],
            utm=utm_params(template.name, settings),
        )

    def _jinja_syntax(self, expanded: Expanded, template: TemplateFile) -> list[Problem]:
        """Jinja syntax errors in the marketer's files, located in the file that has them.

        The page and each slot block are parsed apart, as they render: an ``{% if %}`` left
        open in a block is reported at that tag, not where Jinja ran out of template.
        """
        problems = _unclosed_tags(expanded)
        if problems:
            # Jinja would report these where it gave up, often in the next file
            return problems
        for _, piece in expanded.pieces():
            problems += self._piece_problems(piece)
        for key in ("subject", "preheader"):
            if isinstance(template.settings.get(key), str):
                problems += self._setting_problems(template, key)
        return problems

    def _piece_problems(self, piece: Expanded) -> list[Problem]:
        source = piece.source
        try:
            ast = self.html_env.parse(source)
        except TemplateSyntaxError as exc:
            opener = unclosed_block_tag(source)
            if opener is not None:
                offset, tag = opener
                return [Problem(*piece.locate(offset), f"{{% {tag} %}} is never closed: add {{% end{tag} %}}")]
            return [Problem(*piece.locate_on_line(exc.lineno or 1), f"Jinja syntax error: {exc.message}")]
        found: list[tuple[nodes.Node, str, str | None]] = [(n, m, None) for n, m in self._named_file_problems(ast)]
        found += unknown_filters_and_tests(ast, self.html_env)
        return [
            Problem(*piece.locate_on_line(node.lineno, word_pattern(word) if word else None), message)
            for node, message, word in found
        ]

    def _setting_problems(self, template: TemplateFile, key: str) -> list[Problem]:
        source = template.settings[key]
        try:
            ast = self.html_env.parse(source)
        except TemplateSyntaxError as exc:
            return [Problem(*setting_location(template, key), f"Jinja syntax error in {key}: {exc.message}")]
        found: list[tuple[nodes.Node, str, str | None]] = [(n, m, None) for n, m in self._named_file_problems(ast)]
        found += unknown_filters_and_tests(ast, self.html_env)
        return [Problem(*setting_location(template, key, word), f"{key}: {message}") for _, message, word in found]

    def _placed_setting(self, template: TemplateFile, key: str, text: str) -> str:
        where = self._where(*setting_location(template, key)[:2])
        return placed_outputs(text, lambda _: where)

    def _where(self, path: str, line: int) -> str:
        """``blocks/hero/x.mjml:12``: a place in the templates folder, as fallbacks name it."""
        try:
            return f"{Path(path).relative_to(self.templates_dir)}:{line}"
        except ValueError:
            return f"{path}:{line}"

    def _named_file_problems(self, ast: nodes.Template) -> list[tuple[nodes.Node, str]]:
        """Files named by the tags the expansion leaves to Jinja (import, from-import, extends).

        The runtime loader refuses files outside ``templates/`` too; this says so at
        ``tailor check`` time, with the position, instead of failing every render.
        """
        found: list[tuple[nodes.Node, str]] = []
        for node in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            if not isinstance(node, (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
                continue  # find_all yields only these; this tells the type checker
            kind = _FILE_TAGS[type(node).__name__]
            target = node.template
            items = target.items if isinstance(target, (nodes.List, nodes.Tuple)) else [target]
            for item in items:
                if not (isinstance(item, nodes.Const) and isinstance(item.value, str)):
                    found.append(
                        (node, f"{kind} needs a quoted file name: files are checked when the template compiles")
                    )
                    continue
                name = item.value
                if name.startswith("/") or confined_path(self.templates_dir, name) is None:
                    found.append((node, f"{kind}: {outside_message(name)}"))
                elif not (self.templates_dir / name).is_file() and not getattr(node, "ignore_missing", False):
                    found.append((node, f"{kind}: file {name!r} not found in {self.templates_dir}"))
        return found

    @staticmethod
    def _head_with(source: str, add_title: bool, add_preview: bool) -> str:
        extra = ("<mj-title>{{ " + PAGE + ".subject }}</mj-title>" if add_title else "") + (
            "<mj-preview>{{ " + PAGE + ".preheader }}</mj-preview>" if add_preview else ""
        )
        if not extra:
            return source
        if "<mj-head>" in source:
            return source.replace("<mj-head>", "<mj-head>" + extra, 1)
        return re.sub(r"(<mjml[^>]*>)", lambda m: m.group(1) + f"<mj-head>{extra}</mj-head>", source, count=1)

    def _mjml_to_html(self, source: str, template: TemplateFile) -> str:
        vault = TokenVault()
        protected = fix_for_mrml(vault.protect(source))
        try:
            html = compile_mjml(protected)
        except MJMLError as exc:
            raise ProblemError([Problem(str(template.path), 1, 1, f"MJML: {exc}")]) from None
        lost = vault.missing(html)
        if lost:
            raise ProblemError(
                [
                    Problem(
                        str(template.path),
                        1,
                        1,
                        f"MJML dropped Jinja {lost[0]!r}: move it inside an mj-text, or between sections",
                    )
                ]
            )
        return vault.restore(html)

    def _inline(self, html: str, template: TemplateFile) -> str:
        kept: list[str] = []
        if template.kind == "mjml":
            # Like official MJML: only <mj-style inline="inline"> is inlined; MJML's own
            # resets and the other styles stay in <head> (inlining them bloats every cell).
            def keep(m: re.Match[str]) -> str:
                if INLINE_MARK in m.group(0):
                    return m.group(0).replace(INLINE_MARK, "")
                kept.append(m.group(0))
                return f"<!--tailor:style {len(kept) - 1}-->"

            html = _STYLE_BLOCK.sub(keep, html)
        vault = TokenVault()
        inlined = inline_css(vault.protect(html, html_aware=True), self.inliner)
        lost = vault.missing(inlined)
        if lost:
            raise ProblemError([Problem(str(template.path), 1, 1, f"CSS inlining dropped Jinja {lost[0]!r}")])
        inlined = re.sub(r"<!--tailor:style (\d+)-->", lambda m: kept[int(m.group(1))], inlined)
        return vault.restore(inlined)

    def _sources(self, html: str) -> Sources:
        """The HTML and text sources of a piece (the page, or a slot block), sharing what they can."""
        found = marked_sources(html, html_template_to_text_pieces(html), self.html_env)
        # the page's text part reads each slot's text block where its HTML part reads the HTML block
        slot_text = f"{PAGE}.slot_text["
        return Sources(
            found.html,
            found.text.replace(f"{PAGE}.slot_html[", slot_text),
            found.plain_text.replace(f"{PAGE}.slot_html[", slot_text),
        )

    def _jinja(self, env: Any, source: str, template: TemplateFile, part: str) -> Any:
        try:
            # Jinja's from_string, keeping the code object for the disk cache
            code = compile_code(env, source)
            compiled = env.template_class.from_code(env, code, env.make_globals(None), None)
            compiled.tailor_code = code
            return compiled
        except TemplateSyntaxError as exc:
            # the marketer's files passed _jinja_syntax already: this is in what tailor generated
            raise ProblemError(
                [Problem(str(template.path), 1, 1, f"Jinja syntax error in the compiled {part}: {exc.message}")]
            ) from None


def placed_outputs(source: str, where: Callable[[int], str]) -> str:
    """``source`` with every ``{{ x }}`` written ``{{ (x) | shown("file:line") }}``.

    A null or missing value then renders as nothing and its fallback names the file and
    line that printed it (``rendering.environment.shown``). ``where`` maps an offset in
    ``source`` to its place; ``{% raw %}`` is left alone.
    """
    out: list[str] = []
    last, raw = 0, False
    for match in JINJA_TOKEN.finditer(source):
        token = match.group(0)
        tag = TAG_WORD.match(token)
        if tag is not None:
            raw = tag.group(1) == "raw" or (raw and tag.group(1) != "endraw")
            continue
        output = OUTPUT_TOKEN.match(token)
        if raw or output is None or not _is_expression(output["expr"]):
            continue
        out.append(source[last : match.start()])
        out.append(f"{{{{{output['open']} ({output['expr']}) | shown({where(match.start())!r}) {output['close']}}}}}")
        last = match.end()
    out.append(source[last:])
    return "".join(out)


def _is_expression(text: str) -> bool:
    """Whether ``text`` is one whole Jinja expression (a ``}}`` inside a string cuts a token short)."""
    try:
        parser = Parser(_PARSE_ENV, text, state="variable")
        parser.parse_tuple(with_condexpr=True)
        return parser.stream.eos
    except TemplateSyntaxError:
        return False


_PARSE_ENV = Environment()


def _disk_record(compiled: CompiledTemplate) -> dict[str, Any]:
    """What :class:`CompiledCache` keeps of a compiled version: its sources and each piece's code."""
    code = {"html": compiled.html.tailor_code, "text": compiled.text.tailor_code}
    code["subject"] = compiled.subject.tailor_code
    if compiled.preheader is not None:
        code["preheader"] = compiled.preheader.tailor_code
    for slot, blocks in compiled.slots.items():
        for block in blocks.sources:
            code[f"slot {slot} {block} html"] = blocks.html[block].tailor_code
            code[f"slot {slot} {block} text"] = blocks.text[block].tailor_code
    return {
        "settings": compiled.settings,
        "html_source": compiled.html_source,
        "text_source": compiled.text_source,
        "files": compiled.files,
        "utm": compiled.utm,
        "slots": {slot: {"default": b.default, "sources": b.sources} for slot, b in compiled.slots.items()},
        "code": code,
    }


_FILE_TAGS = {"Extends": "extends", "Include": "include", "Import": "import", "FromImport": "from-import"}


def word_pattern(word: str) -> re.Pattern[str]:
    """``word`` as a whole name: not part of a longer name, nor an attribute of something else."""
    return re.compile(rf"(?<![\w.]){re.escape(word)}(?!\w)")


def setting_location(template: TemplateFile, key: str, word: str | None = None) -> tuple[str, int, int]:
    """Where setting ``key`` (``subject``…) is written: its front-matter line, or its line in ``<name>.yaml``.

    With ``word``, the position of that word in the setting's value.
    """
    candidates = [(template.path, template.text[: template.body_offset])]
    sibling = template.path.with_suffix(".yaml")
    if sibling.is_file():
        candidates.append((sibling, sibling.read_text(encoding="utf-8")))
    for path, text in candidates:
        found = re.search(rf"^{re.escape(key)}\s*:", text, re.M)
        if found is None:
            continue
        at = found.start()
        if word is not None:
            value = word_pattern(word).search(text, found.end())
            at = value.start() if value is not None else at
        return (str(path), *line_col(text, at))
    return str(template.path), 1, 1


def unclosed_block_tag(source: str) -> tuple[int, str] | None:
    """``(offset, tag)`` of the block tag a parse error left open (the innermost), or None."""
    stack: list[tuple[int, str]] = []
    for match in TAG_WORD.finditer(source):
        word = match.group(1)
        if stack and stack[-1][1] == "raw" and word != "endraw":
            continue
        if word in BLOCK_TAGS or (word == "set" and "=" not in match.group("rest")):
            stack.append((match.start(), word))
        elif word.startswith("end"):
            if not stack:
                return None
            if stack[-1][1] != word[3:]:
                return stack[-1]
            stack.pop()
    return stack[-1] if stack else None


def unknown_filters_and_tests(ast: nodes.Template, env: Any) -> list[tuple[nodes.Node, str, str]]:
    """``(node, message, name)`` for every filter or test the environment does not have."""
    found: list[tuple[nodes.Node, str, str]] = []
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        if isinstance(node, nodes.Filter) and node.name not in env.filters:
            found.append((node, f"unknown filter {node.name!r}" + did_you_mean(node.name, env.filters), node.name))
        elif isinstance(node, nodes.Test) and node.name not in env.tests:
            found.append((node, f"unknown test {node.name!r}" + did_you_mean(node.name, env.tests), node.name))
    return found


_OPENERS = {"{{": "}}", "{%": "%}", "{#": "#}"}
_OPENER = re.compile(r"\{[{%#]")


def _unclosed_tags(expanded: Expanded) -> list[Problem]:
    """A ``{{``/``{%``/``{#`` with no closing delimiter before the next opener, per file."""
    problems: list[Problem] = []
    for path, text in expanded.files.items():
        for match in _OPENER.finditer(text):
            closer = _OPENERS[match.group(0)]
            end = text.find(closer, match.end())
            following = _OPENER.search(text, match.end())
            next_open = following.start() if following else len(text)
            comment_inside = match.group(0) == "{#"
            if end < 0 or (end > next_open and not comment_inside):
                line, col = line_col(text, match.start())
                problems.append(
                    Problem(str(path), line, col, f"Jinja syntax error: {match.group(0)} is never closed with {closer}")
                )
    return problems


def _tag_links(html: str, static_params: dict[str, str]) -> str:
    """UTM-tag every http(s) link: static URLs now, URLs with Jinja at render time."""

    def tag(match: re.Match[str]) -> str:
        url = match.group("url")
        if "{{" in url or "{%" in url:
            return (
                f"{match.group('pre')}{match.group('q')}{{% filter tag_link %}}{url}{{% endfilter %}}{match.group('q')}"
            )
        if url.startswith(("http://", "https://")) and "fonts.googleapis.com" not in url:
            tagged = _escape_amp(tag_url(_unescape_amp(url), static_params))
            return f"{match.group('pre')}{match.group('q')}{tagged}{match.group('q')}"
        return match.group(0)

    head_end = html.find("</head>")
    head, body = (html[:head_end], html[head_end:]) if head_end >= 0 else ("", html)
    return head + _HREF.sub(tag, body)


def _unescape_amp(url: str) -> str:
    return url.replace("&amp;", "&")


def _escape_amp(url: str) -> str:
    return url.replace("&", "&amp;")


def _cut_slots(html: str, slots: list[str]) -> tuple[str, dict[str, dict[str, str]]]:
    """Cut each slot's block alternatives out of the page; the page keeps a placeholder."""
    found: dict[str, dict[str, str]] = {}
    for slot in slots:
        start_marker, end_marker = SLOT_OPEN.format(slot), SLOT_CLOSE.format(slot)
        start, end = html.find(start_marker), html.find(end_marker)
        if start < 0 or end < 0:
            raise ProblemError(
                [
                    Problem(
                        "<compiled>",
                        1,
                        1,
                        f"slot {slot!r} was lost in compilation: put the slot between sections or inside a column",
                    )
                ]
            )
        region = html[start + len(start_marker) : end]
        blocks: dict[str, str] = {}
        for m in re.finditer(r"<!--tailor:block (?P<name>[\w/-]+)-->(?P<body>.*?)<!--/tailor:block-->", region, re.S):
            blocks[m.group("name")] = m.group("body")
        found[slot] = blocks
        html = html[:start] + slot_placeholder(slot) + html[end + len(end_marker) :]
    return html, found
