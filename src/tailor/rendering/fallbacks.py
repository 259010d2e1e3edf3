"""Fallbacks taken during one render, collected without threading a list through every call."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_current: contextvars.ContextVar[list[dict] | None] = contextvars.ContextVar("tailor_fallbacks", default=None)


def record_fallback(reason: str, detail: str, **extra: object) -> None:
    """Note that a render used a default because data or a service was missing.

    Details name the *variable* or *service*, never its value: fallbacks end up in
    logs and traces, which must stay free of personal data.
    """
    found = _current.get()
    if found is None:
        return
    entry = {"reason": reason, "detail": detail, **extra}
    if entry not in found:
        found.append(entry)


@contextmanager
def collecting_fallbacks(into: list[dict] | None = None) -> Iterator[list[dict]]:
    """Collect every :func:`record_fallback` made inside the block into a list."""
    found: list[dict] = [] if into is None else into
    token = _current.set(found)
    try:
        yield found
    finally:
        _current.reset(token)
