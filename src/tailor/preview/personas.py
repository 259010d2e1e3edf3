"""Fixture personas: profile documents in ``fixtures/personas/*.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tailor.problems import Problem, ProblemError


def load_personas(folder: Path) -> dict[str, dict[str, Any]]:
    """Persona name (file stem) → profile document, sorted by name."""
    personas: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            personas[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), exc.lineno, exc.colno, f"malformed JSON: {exc.msg}"))
    if problems:
        raise ProblemError(problems)
    return personas
