"""The template list: every template with its slots, rule files, compile status and `tailor check` problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailor.core import Tailor
from tailor.email import TailorError
from tailor.problems import Problem


@dataclass
class TemplateSummary:
    name: str
    description: str = ""
    slots: list[str] = field(default_factory=list)
    rule_files: list[str] = field(default_factory=list)
    #: "ok", "broken" (never compiled) or "stale" (a broken edit; the last good version serves)
    status: str = "ok"
    version: str | None = None
    problems: list[Problem] = field(default_factory=list)


def check_problems(tailor: Tailor) -> list[Problem]:
    """What `tailor check` prints (the workspace's check: it leaves the serving version untouched)."""
    return tailor.check()


def summarize(tailor: Tailor, problems: list[Problem] | None = None) -> list[TemplateSummary]:
    """One summary per template, problems attached to the template whose files they are in."""
    problems = check_problems(tailor) if problems is None else problems
    book = _rulebook(tailor)
    shared = _shared_rule_files(book)
    summaries = []
    broken = tailor.workspace.broken_edits()
    for name in tailor.template_names():
        summary = TemplateSummary(name)
        files: set[str] = set()
        try:
            compiled = tailor.compile(name)
        except TailorError as exc:
            summary.status = "broken"
            summary.problems = list(getattr(exc, "problems", [])) or [Problem(name, 0, 0, str(exc))]
        else:
            summary.version = compiled.version
            summary.description = str(compiled.settings.get("description") or "")
            summary.slots = compiled.slot_names
            files = {_norm(f) for f in compiled.files}
            stale = broken.get(name)
            if stale:
                summary.status = "stale"
                summary.problems = list(stale)
        slot_files = [_norm(book.slots[s].origin.path) for s in summary.slots if book is not None and s in book.slots]
        rule_files = set(slot_files) | set(shared)
        own = files | rule_files | {_norm(str(tailor.compiler.path_of(name)))}
        # shown relative to the folder that holds rules/, as marketers know them (rules/hero.yaml)
        summary.rule_files = sorted(_relative(f, tailor.rules_dir.parent) for f in rule_files)
        for p in problems:
            if _norm(p.path) in own and p not in summary.problems:
                summary.problems.append(p)
        if summary.status == "ok" and any(p.severity == "error" for p in summary.problems):
            summary.status = "errors"
        summaries.append(summary)
    return summaries


def _rulebook(tailor: Tailor) -> Any:
    try:
        return tailor.rulebook
    except Exception:  # rules never loaded: the list still shows templates
        return None


def _shared_rule_files(book: Any) -> list[str]:
    """Rule files every template uses: abort rules, segments and trigger declarations."""
    found = {_norm(r.origin.path) for r in getattr(book, "abort_rules", [])}
    found |= {_norm(s.origin.path) for s in getattr(book, "segments", {}).values()}
    found |= {_norm(origin.path) for origin in getattr(book, "trigger_origins", {}).values()}
    return sorted(f for f in found if f)


def _relative(path: str, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return path


def _norm(path: str) -> str:
    return str(Path(path)) if path else ""
