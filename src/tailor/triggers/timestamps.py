"""Event timestamps: ISO 8601 strings in, aware UTC datetimes out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload


@overload
def to_utc(value: datetime) -> datetime: ...
@overload
def to_utc(value: Any) -> datetime | None: ...


def to_utc(value: Any) -> datetime | None:
    """Parse a Segment timestamp; naive values are taken as UTC, junk gives None."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            # Python 3.11's fromisoformat accepts "Z" and offsets like "+02:00".
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
