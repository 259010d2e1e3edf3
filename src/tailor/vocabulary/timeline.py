"""A profile's events in time order as of a send time: read once per send, shared by features and triggers.

Features and triggers both want the same thing from a profile's events: the ones with a
name and a readable timestamp no later than the send time, in time order (document order
at equal times). Building that list once per send, instead of once in each, parses and
sorts each event once; and because it is sorted, a window (the last 30 or 90 days, a
trigger's horizon) is found by bisection and only the events inside it are read.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from tailor.vocabulary.times import to_utc

#: ``(time, position in the document, event)``
Row = tuple[datetime, int, Mapping[str, Any]]


@dataclass(frozen=True)
class Timeline:
    """The named events of a profile with a readable time ``<= at``, by time then position."""

    at: datetime
    rows: list[Row]
    #: the rows' times (what :meth:`since` bisects)
    times: list[datetime]
    #: the earliest readable time ``<= at`` of any event, named or not (None without one)
    first_seen: datetime | None

    def since(self, start: datetime) -> list[Row]:
        """The rows strictly after ``start`` (half-open windows: ``(start, at]``)."""
        return self.rows[bisect_right(self.times, start) :]


def build_timeline(events: Sequence[Any] | None, at: datetime) -> Timeline:
    """The :class:`Timeline` of ``events`` as of ``at`` (aware UTC); events that are not objects are skipped."""
    rows: list[Row] = []
    first: datetime | None = None
    for index, event in enumerate(events or ()):
        if type(event) is not dict and not isinstance(event, Mapping):  # (the exact type first: no ABC check)
            continue
        moment = to_utc(event.get("timestamp"))
        if moment is None or moment > at:
            continue  # as of ``at``: the future has not happened yet
        if first is None or moment < first:
            first = moment
        if event.get("event"):
            rows.append((moment, index, event))
    rows.sort(key=itemgetter(0))  # stable: document order at equal times (an ingested history is already sorted)
    return Timeline(at, rows, [row[0] for row in rows], first)
