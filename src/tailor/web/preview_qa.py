"""The studio's QA pages: the audience dry run, the diff against the last commit, and what the other pages share.

- ``/preview/audience``: the dry run of ``tailor check --audience/--segment`` as a page
  (:mod:`tailor.preview.audience`), over a persona set, a stored segment or a sample of
  the store.
- ``/preview/diff``: per persona, what the working tree changes in a template's email
  compared with the last commit (``git archive HEAD``), as a text diff of subject,
  preheader, blocks and plain text.
- For every studio page (a context processor): the sender name from the settings, the
  experiment variants a template can be previewed in, the persona sets, and the warning and
  fallback counts of a grid card.
"""

from __future__ import annotations

import difflib
import io
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from flask import Blueprint, render_template, request

from tailor.core import Tailor, parse_at
from tailor.email import InvalidInput, TailorError
from tailor.preview.audience import dry_run, sample, segment_members
from tailor.preview.panel import email_checks
from tailor.preview.personas import persona_sets
from tailor.preview.session import InputError, PreviewOutcome, json_object, render_preview
from tailor.web import preview as studio_views

#: git must answer quickly; a studio page does not wait on a hung repository
GIT_TIMEOUT_SECONDS = 10
#: the largest dry run the page renders in one request (the CLI has no such cap)
MAX_PAGE_AUDIENCE = 2000


def install(bp: Blueprint, tailor: Tailor) -> None:
    """Add what every studio template may use."""

    def shared() -> dict[str, Any]:
        folder = studio_views._studio().personas_dir()
        return {
            "sets": persona_sets(folder),
            "personas_dir_name": folder.name or str(folder),
            "sender": sender_name(tailor),
            "variant_options": lambda template: variant_options(tailor, template),
            "card_counts": card_counts,
        }

    bp.context_processor(shared)


def sender_name(tailor: Tailor) -> str:
    """The display name of the configured sender (``TAILOR_SMTP_FROM``), as an inbox shows it."""
    configured = getattr(tailor.settings, "smtp_from", None) or ""
    name, address = parseaddr(str(configured))
    return name or address or "no sender configured (TAILOR_SMTP_FROM)"


def variant_options(tailor: Tailor, template: str) -> list[tuple[str, str]]:
    """``(value, label)`` per experiment variant (and holdout) that applies to ``template``."""
    try:
        slots = tailor.compile(template).slot_names
    except TailorError:
        return []
    options = []
    for experiment in tailor.experiments.values():
        if not experiment.applies_to(template, slots):
            continue
        names = [v.name for v in experiment.variants] + (["holdout"] if experiment.holdout else [])
        options += [(f"{experiment.name}:{name}", f"{experiment.name}: {name}") for name in names]
    return options


@dataclass
class CardCounts:
    warnings: int
    fallbacks: int


def card_counts(outcome: PreviewOutcome) -> CardCounts:
    """What a grid card counts: email checks that are not ok, and fallbacks taken."""
    if outcome.email is None:
        return CardCounts(0, 0)
    warnings = sum(1 for check in email_checks(outcome.email.html) if not check.ok)
    return CardCounts(warnings, len(outcome.email.fallbacks))


# -- /preview/audience ---------------------------------------------------------------------------


def audience() -> Any:
    studio = studio_views._studio()
    tailor = studio.tailor
    req = studio_views._preview_request()
    source = (request.values.get("source") or "personas").strip()
    segment = (request.values.get("segment") or "").strip()
    size = _int(request.values.get("sample"))
    if not req.template and tailor.template_names():
        req.template = tailor.template_names()[0]
    error = None
    recipients: list[dict[str, Any]] = []
    try:
        at: datetime | None = parse_at(req.at or None)
    except InvalidInput as exc:  # every render would refuse it: say so on the page, not as a 500
        at, error = None, str(exc)
    if at is None:
        pass  # nobody to render at a time that is not one
    elif source == "personas":
        found, error = studio.personas(req.persona_set)
        recipients = list(found.values())
    elif tailor.store is None:
        error = "no profile store is configured (TAILOR_DATABASE_URL): use a persona set"
    elif source == "segment":
        if segment not in tailor.rulebook.segments:
            error = f"unknown segment {segment!r} (known: {', '.join(sorted(tailor.rulebook.segments)) or 'none'})"
        else:
            recipients = segment_members(tailor, segment, at)
    else:
        recipients = [{"id": pid} for pid in tailor.store.profile_ids()]
    chosen = sample(recipients, min(size or MAX_PAGE_AUDIENCE, MAX_PAGE_AUDIENCE))
    context = None
    if req.context:
        try:
            context = json_object(req.context, "ESP context")
        except InputError as exc:
            error = str(exc)
    report = dry_run(tailor, req.template, chosen, at, context) if at and req.template and chosen else None
    return render_template(
        "preview/audience.html",
        req=req,
        report=report,
        error=error,
        source=source,
        segment=segment,
        sample=size or "",
        total=len(recipients),
        templates=tailor.template_names(),
        segments=sorted(tailor.rulebook.segments),
        state=studio.watcher().state(req.template),
    )


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number > 0 else None


# -- /preview/diff -------------------------------------------------------------------------------


@dataclass
class PersonaDiff:
    persona: str
    #: "changed", "unchanged", or "new" / "gone" when one side could not render
    status: str
    lines: list[str]
    before_html: str = ""
    after_html: str = ""


class HeadShop:
    """The templates and rules folders as of ``HEAD``, extracted once per commit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[tempfile.TemporaryDirectory[str], Tailor]] = {}

    def tailor_at_head(self, tailor: Tailor) -> tuple[Tailor | None, str]:
        """``(Tailor over HEAD's files, commit)`` or ``(None, why not)``."""
        root = _git_root(tailor.templates_dir)
        if root is None:
            return None, "the templates folder is not in a git repository: there is no last commit to compare with"
        commit = _git(root, "rev-parse", "HEAD")
        if commit is None:
            return None, "the repository has no commit yet"
        key = (str(root), commit.strip())
        with self._lock:
            if key not in self._cache:
                folder = tempfile.TemporaryDirectory(prefix="tailor-head-")
                templates, rules = (_relative(p, root) for p in (tailor.templates_dir, tailor.rules_dir))
                archive = _git_bytes(root, "archive", "--format=tar", "HEAD", "--", templates, rules)
                if archive is None:
                    return None, f"{templates} or {rules} is not in the last commit"
                with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                    tar.extractall(folder.name, filter="data")
                base = Path(folder.name)
                head = Tailor(
                    base / templates,
                    base / rules,
                    settings=tailor.settings.with_values(templates=base / templates, rules=base / rules),
                    recommender=tailor.recommender,
                )
                self._cache = {key: (folder, head)}  # one commit at a time: the old folder is removed
            return self._cache[key][1], key[1][:12]


_HEAD = HeadShop()


def diff() -> Any:
    studio = studio_views._studio()
    tailor = studio.tailor
    req = studio_views._preview_request()
    if not req.template and tailor.template_names():
        req.template = tailor.template_names()[0]
    found, persona_error = studio.personas(req.persona_set)
    head, commit = _HEAD.tailor_at_head(tailor)
    diffs: list[PersonaDiff] = []
    if head is not None:
        for name in found:
            one = replace(req, persona=name, ref="", profile="")
            diffs.append(_persona_diff(name, render_preview(head, found, one), render_preview(tailor, found, one)))
    return render_template(
        "preview/diff.html",
        req=req,
        diffs=diffs,
        commit=commit if head is not None else None,
        why_not=None if head is not None else commit,
        persona_error=persona_error,
        templates=tailor.template_names(),
        state=studio.watcher().state(req.template),
    )


def _persona_diff(name: str, before: PreviewOutcome, after: PreviewOutcome) -> PersonaDiff:
    old, new = _comparable(before), _comparable(after)
    lines = list(difflib.unified_diff(old, new, "last commit", "working tree", lineterm="", n=2))
    if before.email is None and after.email is not None:
        status = "new"
    elif before.email is not None and after.email is None:
        status = "gone"
    else:
        status = "changed" if lines else "unchanged"
    return PersonaDiff(name, status, lines, before.html, after.html)


def _comparable(outcome: PreviewOutcome) -> list[str]:
    """The email as lines a person reads: subject, preheader, blocks, then the plain text."""
    if outcome.email is None:
        return [f"(not rendered: {outcome.error})"]
    subject, preheader = outcome.inbox()
    head = [f"Subject: {subject}", f"Preheader: {preheader}"]
    head += [f"Block {slot}: {block}" for slot, block in sorted(outcome.email.blocks.items())]
    return [*head, "", *outcome.text.splitlines()]


def _git_root(folder: Path) -> Path | None:
    out = _git(folder.resolve() if folder.exists() else folder, "rev-parse", "--show-toplevel")
    return Path(out.strip()) if out else None


def _git(cwd: Path, *args: str) -> str | None:
    found = _git_bytes(cwd, *args)
    return found.decode("utf-8", "replace") if found is not None else None


def _git_bytes(cwd: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _relative(path: Path, root: Path) -> str:
    return str(path.resolve().relative_to(root.resolve()))


QA_ROUTES: list[tuple[str, Callable[..., Any], list[str]]] = [
    ("/audience", audience, ["GET", "POST"]),
    ("/diff", diff, ["GET"]),
]
