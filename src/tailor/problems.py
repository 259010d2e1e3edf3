"""Problems found in marketers' files, reported as ``path:line:col: message``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in one file; ``line`` and ``col`` are 1-based (0 = unknown)."""

    path: str
    line: int
    col: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}:{self.col}: {prefix}{self.message}"


class ProblemError(Exception):
    """Raised when files cannot be loaded; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean 'first_name'?)"`` for the closest known name, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def yaml_error_message(exc: Exception, text: str) -> str:
    """A YAML parse error in the marketer's words: indentation and tabs named as such.

    PyYAML says "expected <block end>" or "mapping values are not allowed here" where a
    person sees a line indented one space too far; the parser's words stay in brackets.
    """
    problem = str(getattr(exc, "problem", None) or exc)
    mark = getattr(exc, "problem_mark", None)
    line = text.split("\n")[mark.line] if mark is not None and mark.line < len(text.split("\n")) else ""
    before = line[: mark.column] if mark is not None else ""
    if "'\\t'" in problem:
        return "YAML: a tab is used for indentation; indent with spaces"
    if "mapping values are not allowed" in problem and ": " in before.strip():
        key, value = line.strip().lstrip("- ").split(": ", 1)
        return f"YAML: the value of {key!r} contains ': ': put it in quotes, e.g. {key}: \"{value.strip()}\""
    if problem.startswith(("expected <block end>", "mapping values are not allowed", "did not find expected")):
        return (
            "YAML: the indentation is off here: keys of one mapping (and the '-' of one list) must line up "
            f"exactly, with spaces ({problem})"
        )
    context = getattr(exc, "context", None)
    return f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
