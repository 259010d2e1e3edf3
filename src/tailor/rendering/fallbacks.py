"""Fallbacks taken during one render, collected without threading a list through every call.

Every reason a render can give is declared in :data:`REASONS`, with what it means and what
causes it (:data:`Cause`): QA tools (coverage personas, ``tailor check --coverage``) read
the catalogue to know which fallbacks exist, and a test fails when code records a reason
that is not in it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

_current: contextvars.ContextVar[list[dict] | None] = contextvars.ContextVar("tailor_fallbacks", default=None)

#: what makes a render take a fallback: the recipient's profile document, the send-time
#: ``context`` (or the lack of a recipient), the template's own code, or a service it calls
Cause = Literal["profile data", "send context", "template code", "service"]


@dataclass(frozen=True)
class FallbackReason:
    name: str
    #: one line: what the reader of the email got instead
    meaning: str
    cause: Cause


REASONS: dict[str, FallbackReason] = {
    r.name: r
    for r in (
        FallbackReason("no-consent", "no personalization consent: the non-personalized email", "profile data"),
        FallbackReason("bad-locale", "an unknown locale: formatted in the default locale", "profile data"),
        FallbackReason("bad-timezone", "an unknown time zone: times shown in UTC", "profile data"),
        FallbackReason("null-value", "a null value printed as nothing", "profile data"),
        FallbackReason("missing-number", "a number filter got no value: printed as nothing", "profile data"),
        FallbackReason("bad-number", "a number filter got a non-number (or one it cannot show)", "profile data"),
        FallbackReason("bad-date", "a date filter got no usable date: printed as nothing", "profile data"),
        FallbackReason("bad-currency", "an unknown currency code: the amount without a symbol", "profile data"),
        FallbackReason("other-currency", "a price in another currency than the email's", "send context"),
        FallbackReason("anonymous", "no recipient given: the non-personalized defaults", "send context"),
        FallbackReason("unknown-recipient", "the recipient is not in the store: the defaults", "send context"),
        FallbackReason("undefined-variable", "the template printed a name that is not defined", "template code"),
        FallbackReason("bad-argument", "a filter argument out of range: the filter's default", "template code"),
        FallbackReason("bad-currency-format", "an unknown money format: the standard one", "template code"),
        FallbackReason("unknown-block", "a chosen block not compiled into the template: the default", "template code"),
        FallbackReason("block-failed", "a slot's block failed to render: the slot's default", "template code"),
        FallbackReason("slot-hidden", "no block of a slot could render: the slot is empty", "template code"),
        FallbackReason("recs-error", "a recommendation provider failed: the next one was asked", "service"),
        FallbackReason("recs-timeout", "a recommendation provider ran out of time: the next one", "service"),
        FallbackReason("recs-empty", "a recommendation provider had no products: the next one", "service"),
        FallbackReason("recs-hidden", "no provider returned products: recommendations hidden", "service"),
    )
}

#: a recommendation attempt's ``outcome`` → the fallback it is recorded as (``ok``/``skipped`` are none)
RECS_OUTCOMES = {"error": "recs-error", "timeout": "recs-timeout", "empty": "recs-empty"}


def record_fallback(reason: str, detail: str, **extra: object) -> None:
    """Note that a render used a default because data or a service was missing.

    ``reason`` is a name of :data:`REASONS`. Details name the *variable* or *service*,
    never its value: fallbacks end up in logs and traces, which must stay free of
    personal data.
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
