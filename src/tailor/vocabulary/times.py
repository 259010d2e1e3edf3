"""Times: ISO 8601 in, aware UTC out.

Every time tailor reads (event timestamps, send times, ``--at`` options, catalog
dates, webhook payloads, template values) goes through :func:`parse_iso`, so the
same text means the same instant everywhere: ``Z`` and offsets are understood, a
time without an offset is UTC, and more than six fractional digits (Postmark sends
seven) are cut to what ``datetime`` holds. Unparseable text raises
:class:`NotATime`, whose message says what to write instead.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any, overload

EXAMPLE = "2026-11-20T18:02:00Z"
# ".1234567" -> ".123456": datetime holds microseconds; the extra digits say nothing a send needs
_FRACTION = re.compile(r"(\.\d{6})\d+")


class NotATime(ValueError):
    """Text that is not an ISO 8601 time (or one outside what a datetime can hold)."""


def parse_iso(value: str | datetime) -> datetime:
    """``value`` as an aware UTC datetime; naive values are taken as UTC.

    Raises :class:`NotATime` for anything that is not an ISO 8601 time.
    """
    if type(value) is str:  # (an event's timestamp, on every send: the cached parse without more checks)
        return _parse_text(value)
    if isinstance(value, datetime):
        return _as_utc(value, value)
    if isinstance(value, str):
        return _parse_text(value)
    raise NotATime(f"not an ISO 8601 time: {value!r} (use e.g. {EXAMPLE})")


@functools.lru_cache(maxsize=16_384)  # ~3 MB: a 10,000-event history fits
def _parse_text(value: str) -> datetime:
    # A send reads each event's timestamp in several places (validation, features, triggers,
    # recommendations' windows): the text is parsed once. Errors are not cached.
    text = value.strip()
    if not text:
        raise NotATime(f"not an ISO 8601 time: {value!r} (use e.g. {EXAMPLE})")
    if "." in text:  # (most timestamps have no fraction: skip the regex on the hot path)
        text = _FRACTION.sub(r"\1", text)
    if text.endswith("z"):  # 3.11 reads "Z" but not "z"
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise NotATime(f"not an ISO 8601 time: {value!r} (use e.g. {EXAMPLE})") from None
    return _as_utc(moment, value)


def _as_utc(moment: datetime, value: str | datetime) -> datetime:
    if moment.tzinfo is UTC:  # "Z" and "+00:00": already the answer
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before datetime.min in UTC
        raise NotATime(f"out of range: {value!r}") from None


@overload
def to_utc(value: datetime) -> datetime: ...
@overload
def to_utc(value: Any) -> datetime | None: ...


def to_utc(value: Any) -> datetime | None:
    """Like :func:`parse_iso` for data that may be missing or junk: None instead of an error."""
    try:
        return parse_iso(value)
    except NotATime:
        return None


def naive_utc(value: str | datetime) -> datetime:
    """:func:`parse_iso` without the offset, the form the store's columns hold."""
    return parse_iso(value).replace(tzinfo=None)
