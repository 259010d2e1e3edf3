"""Timestamps: parsed from ISO 8601, stored as naive UTC, written back with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime

from tailor.vocabulary.times import naive_utc as parse_time

__all__ = ["iso", "iso_stored", "parse_time", "stamp", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso(value: datetime | str | None) -> str | None:
    """``2026-11-20T18:02:00Z`` (microseconds only when there are some)."""
    if value is None:
        return None
    if isinstance(value, str):  # some drivers hand back text
        value = parse_time(value)
    if value.tzinfo is not None:  # stored times are UTC: the zone is only dropped (a copy: half the cost)
        value = value.replace(tzinfo=None)
    # "auto" shows microseconds only when there are some; every stored event passes here on a campaign's load
    return value.isoformat() + "Z"


def iso_stored(value: datetime | str | None) -> str | None:
    """:func:`iso` of a stored time as the driver hands it over, SQLite's text without parsing it.

    SQLAlchemy stores a SQLite ``DateTime`` as ``2026-11-20 18:02:00.000000``: the document's
    form is a slice of it (a send reads hundreds of event times). Anything else goes through
    :func:`iso`.
    """
    if type(value) is str and len(value) == 26 and value[10] == " " and value[19] == ".":
        if value.endswith(".000000"):
            return f"{value[:10]}T{value[11:19]}Z"
        return f"{value[:10]}T{value[11:]}Z"
    return iso(value)


def stamp(value: datetime) -> str:
    """A fixed-width form that sorts like the time it names (for last-write-wins)."""
    # isoformat is C-fast (ingestion stamps every write) and equals strftime's
    # "%Y-%m-%dT%H:%M:%S.%fZ" for every year tailor accepts (1970 on)
    return value.isoformat(timespec="microseconds") + "Z"
