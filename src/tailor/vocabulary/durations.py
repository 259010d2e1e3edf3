"""Durations: one grammar for every file that takes one.

A trigger's ``after:``, an experiment's ``within:``, a recommendation filter's
``exclude_purchased:`` and a retention window are all written the same way: a
number (decimals allowed) and a unit, ``90s``, ``30m``, ``4h``, ``1.5d``, ``2w``;
and, where a window may be endless, ``forever``. A bare number is refused rather than
guessed (30 what?). The error says, in the marketer's words, what to write instead.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

FOREVER = "forever"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
ADVICE = "use a duration such as 4h or 1.5d (units: s, m, h, d, w)"
#: The grammar, for the JSON Schema of rule files (kept equal to :data:`_GRAMMAR` by a test).
PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*[smhdw]\s*$"
_LONGEST_ADVICE = "write forever where a window may be endless, else a shorter duration"
_GRAMMAR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


#: The longest duration: a century, in days. Every window is subtracted from or added to a
#: send time (1970–2999); a longer one overflowed there at send time, and 99999999999w
#: overflowed ``timedelta`` itself — a traceback from ``tailor check``.
MAX_DAYS = 36525


class NotADuration(ValueError):
    """A value that is not a duration; the message is ready to show a marketer."""


def parse_duration(value: Any) -> timedelta:
    """``"1.5d"`` -> ``timedelta(days=1.5)``; :class:`NotADuration` for anything else (``forever`` included)."""
    window = parse_window(value)
    if window is None:
        raise NotADuration(f"{value!r} cannot be forever here: {ADVICE}")
    return window


def parse_window(value: Any) -> timedelta | None:
    """Like :func:`parse_duration`, and ``forever`` -> None (no limit)."""
    if isinstance(value, str) and value.strip().lower() == FOREVER:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise NotADuration(f"{value!r} needs a unit: {ADVICE}")
    match = _GRAMMAR.match(value) if isinstance(value, str) else None
    if not match:
        raise NotADuration(f"{value!r} is not a duration: {ADVICE}")
    seconds = float(match.group(1)) * UNITS[match.group(2)]
    if not seconds <= MAX_DAYS * 86400:  # NaN-proof: a 400-digit number is inf
        raise NotADuration(f"{value!r} is longer than {MAX_DAYS} days (a century): {_LONGEST_ADVICE}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | None) -> str:
    """The shortest exact spelling :func:`parse_window` reads back: ``timedelta(hours=36)`` -> ``"36h"``."""
    if value is None:
        return FOREVER
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        size = UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
