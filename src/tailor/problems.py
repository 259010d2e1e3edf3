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
