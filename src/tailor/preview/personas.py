"""Fixture personas: profile documents in ``fixtures/personas/*.json``.

A sub-folder with persona files is a *set* the studio can switch to (the generated
coverage personas live in ``fixtures/personas/coverage/``). A persona file may carry a
top-level ``context``: the ESP's send-time data it is previewed with (an abort rule on
``context.campaign`` needs one), and ``faults``: a declared service fault it is rendered
under (:mod:`tailor.preview.faults`); the profile document is the rest of the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tailor.email import InvalidInput
from tailor.preview.faults import fault_problem
from tailor.problems import Problem, ProblemError
from tailor.profile import validate_profile


def load_personas(folder: Path) -> dict[str, dict[str, Any]]:
    """Persona name (file stem) → profile document, sorted by name; raises on any bad file."""
    personas, problems = read_personas(folder)
    if problems:
        raise ProblemError(problems)
    return personas


def read_personas(folder: Path) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The good personas of ``folder`` and a problem per file that is not one (skipped)."""
    personas: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            text = path.read_text(encoding="utf-8")
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), exc.lineno, exc.colno, f"malformed JSON: {exc.msg}"))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 0, 0, f"cannot be read: {exc}"))
            continue
        try:
            validate_profile(document)
            if document.get("context") is not None and not isinstance(document["context"], Mapping):
                raise InvalidInput("must be an object", "/context")
        except InvalidInput as exc:
            problems.append(Problem(str(path), 1, 1, f"not a profile document: {exc}"))
            continue
        wrong = fault_problem(document["faults"]) if "faults" in document else None
        if wrong:
            line, col = _value_position(text, "faults")
            problems.append(Problem(str(path), line, col, wrong))
            continue
        personas[path.stem] = document
    return personas, problems


def _value_position(text: str, key: str) -> tuple[int, int]:
    """Line and column (1-based) of the value of the top-level ``key`` in a JSON text."""
    found = re.search(rf'"{re.escape(key)}"\s*:\s*', text)
    if found is None:
        return 1, 1
    start = found.end()
    line = text.count("\n", 0, start) + 1
    return line, start - (text.rfind("\n", 0, start) + 1) + 1


def persona_sets(folder: Path) -> list[str]:
    """The sub-folders of ``folder`` holding persona files (``coverage``), sorted."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.json")))


def send_context(document: Mapping[str, Any]) -> dict[str, Any]:
    """The send-time ``context`` a persona file carries (empty when it has none)."""
    context = document.get("context")
    return dict(context) if isinstance(context, Mapping) else {}
