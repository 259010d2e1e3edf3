"""What ``tailor check`` runs beyond validating files: ``--coverage`` and the audience dry run.

Kept apart from ``cli/check.py`` so the command stays a list of steps: the options are one
decorator, and :func:`run_extras` returns the extra problems and report lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tailor.cli.common import fail
from tailor.core import Tailor
from tailor.problems import Problem, ProblemError

#: where personas live when --personas is not given (its sub-folders are sets, e.g. coverage/)
DEFAULT_PERSONAS = "fixtures/personas"

_OPTIONS = [
    click.option("--coverage", is_flag=True, help="Also list rules and blocks no persona reaches."),
    click.option("--allow-dead", is_flag=True, help="With --coverage: a dead rule is a warning, not an error."),
    click.option(
        "--personas",
        "personas_dirs",
        multiple=True,
        type=click.Path(file_okay=False),
        help="Persona folder for --coverage and --bootstrap-profile, with its sub-folders "
        f"(default {DEFAULT_PERSONAS}); repeatable.",
    ),
    click.option("--audience", type=click.Path(dir_okay=False), help="Dry run: render this audience (CSV/JSONL)."),
    click.option("--segment", help="Dry run: render every stored profile in this segment."),
    click.option("--sample", type=click.IntRange(min=1), help="Dry run: render a random N (repeatable sample)."),
    click.option("--template", "dry_templates", multiple=True, help="Dry run: this template (default: all)."),
    click.option("--at", help="Send time for --coverage and the dry run, ISO 8601 (default: now)."),
    click.option("--context", "context_json", help="Dry run: ESP send-time data as a JSON object."),
    click.option("--json", "as_json", is_flag=True, help="Dry run: print the report as JSON."),
]


def check_run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def wants_extras(extras: dict[str, Any]) -> bool:
    return bool(extras.get("coverage") or extras.get("audience") or extras.get("segment") or extras.get("sample"))


def run_extras(tailor: Tailor, extras: dict[str, Any]) -> tuple[list[Problem], list[str]]:
    """``(problems, report lines)`` for the options given."""
    problems: list[Problem] = []
    lines: list[str] = []
    at = extras.get("at")
    if extras.get("coverage"):
        found, unreached = coverage_run(tailor, extras.get("personas_dirs") or (), at, bool(extras.get("allow_dead")))
        problems += found
        lines += unreached
    if extras.get("audience") or extras.get("segment") or extras.get("sample"):
        lines += audience_run(tailor, extras)
    return problems, lines


def coverage_run(
    tailor: Tailor, folders: tuple[str, ...], at: str | None, allow_dead: bool
) -> tuple[list[Problem], list[str]]:
    """Coverage problems over the personas, and a line per fallback reason no persona can reach."""
    from tailor.preview.coverage import coverage_report, load_persona_sets

    personas: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for folder in folders or (DEFAULT_PERSONAS,):
        found, skipped = load_persona_sets(Path(folder))
        personas.update(found)
        problems += skipped
    if not personas:
        fail(f"--coverage: no personas (*.json) in {', '.join(folders or (DEFAULT_PERSONAS,))}")
    try:
        reported, unreached = coverage_report(tailor, personas, at, allow_dead=allow_dead)
    except ProblemError as exc:  # the rules do not load: the rest of `check` reports them
        return problems + exc.problems, []
    return problems + reported, [str(u) for u in unreached]


def audience_run(tailor: Tailor, extras: dict[str, Any]) -> list[str]:
    from tailor.batch import check_audience, iter_audience
    from tailor.preview.audience import dry_run, sample, segment_members

    audience, segment = extras.get("audience"), extras.get("segment")
    if audience and segment:
        fail("give one of --audience FILE or --segment NAME")
    if audience:
        try:
            check_audience(audience)  # every bad line at path:line:col before anything renders
            recipients = list(iter_audience(audience))
        except ProblemError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{audience}: {exc.strerror or exc}")
        source = audience
    else:
        if tailor.store is None:
            fail(f"--segment/--sample need a store; {tailor.settings.database_url} does not exist")
        if segment and segment not in tailor.rulebook.segments:
            known = ", ".join(sorted(tailor.rulebook.segments)) or "none"
            fail(f"unknown segment {segment!r} (known: {known})")
        at = extras.get("at")
        recipients = (
            segment_members(tailor, segment, at) if segment else [{"id": i} for i in tailor.store.profile_ids()]
        )
        source = f"segment {segment}" if segment else "every stored profile"
    chosen = sample(recipients, extras.get("sample"))
    context = _context(extras.get("context_json"))
    templates = list(extras.get("dry_templates") or ()) or tailor.template_names()
    unknown = [t for t in templates if t not in tailor.template_names()]
    if unknown:
        fail(f"unknown template {unknown[0]!r} (known: {', '.join(tailor.template_names())})")
    reports = [dry_run(tailor, t, chosen, extras.get("at"), context) for t in templates]
    if extras.get("as_json"):
        return [json.dumps({"source": source, "sampled": len(chosen), "reports": [r.as_dict() for r in reports]})]
    lines = [f"dry run: {len(chosen)} of {len(recipients)} recipients ({source}); nothing was sent"]
    for report in reports:
        lines += report.lines()
    return lines


def _context(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--context: not valid JSON at column {exc.colno}: {exc.msg}")
    if not isinstance(value, dict):
        fail("--context must be a JSON object")
    return value


__all__ = ["check_run_options", "run_extras", "wants_extras"]
