"""The state of one trigger as of a send time, as templates and the trace see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class TriggerState:
    """``triggers.<name>`` in templates and conditions.

    ``since`` is the first qualifying event of the episode (the cart's first add),
    ``last_event_at`` the latest one, ``due_at`` when ``after`` has elapsed, and
    ``key`` a stable id of the episode so the same cart never fires twice.
    """

    name: str
    active: bool = False
    items: list[dict[str, Any]] = field(default_factory=list)
    since: datetime | None = None
    reason: str = ""
    key: str | None = None
    last_event_at: datetime | None = None
    due_at: datetime | None = None
    count: int = 0

    def __bool__(self) -> bool:
        # ``{% if triggers.cart_abandonment %}`` reads as "is it active".
        return self.active

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the trace, the scan output and the API."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat().replace("+00:00", "Z") if value else None

        return {
            "name": self.name,
            "active": self.active,
            "items": [dict(i) for i in self.items],
            "since": iso(self.since),
            "last_event_at": iso(self.last_event_at),
            "due_at": iso(self.due_at),
            "count": self.count,
            "key": self.key,
            "reason": self.reason,
        }


class TriggerStates(dict):
    """``{name: TriggerState}`` where an undeclared trigger reads as inactive."""

    def __missing__(self, name: str) -> TriggerState:
        return TriggerState(name=name, reason="not declared in rules/")

    def as_dict(self) -> dict[str, Any]:
        return {name: state.as_dict() for name, state in self.items()}
