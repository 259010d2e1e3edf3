"""Timestamps: parsed from ISO 8601, stored as naive UTC, written back with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime

from tailor.vocabulary.times import naive_utc as parse_time

__all__ = ["iso", "parse_time", "stamp", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """``2026-11-20T18:02:00Z`` (microseconds only when there are some)."""
    if value is None:
        return None
    if isinstance(value, str):  # some drivers hand back text
        value = parse_time(value)
    if value.tzinfo is not None:  # stored times are UTC: the zone is only dropped (a copy: half the cost)
        value = value.replace(tzinfo=None)
    # "auto" shows microseconds only when there are some; every stored event passes here on a campaign's load
    return value.isoformat() + "Z"


def stamp(value: datetime) -> str:
    """A fixed-width form that sorts like the time it names (for last-write-wins)."""
    # isoformat is C-fast (ingestion stamps every write) and equals strftime's
    # "%Y-%m-%dT%H:%M:%S.%fZ" for every year tailor accepts (1970 on)
    return value.isoformat(timespec="microseconds") + "Z"
