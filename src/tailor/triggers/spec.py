"""Trigger declarations (``triggers:`` in a rule file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tailor.vocabulary.durations import format_duration, parse_duration, parse_window


def _names(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    return frozenset([value] if isinstance(value, str) else value)


@dataclass(frozen=True)
class TriggerSpec:
    """One trigger: which events start it, which end it, and its timing.

    - ``on``: events that qualify (each adds its products to the episode);
    - ``unless``: events that end it (for the products they name, or all);
    - ``min_count``: qualifying events needed (within ``within`` when given);
    - ``after``: quiet time after the latest qualifying event before it is due;
    - ``expires``: qualifying events older than this no longer count;
    - ``cooldown``: after firing, the trigger cannot fire again for this long.
    """

    name: str
    on: frozenset[str]
    unless: frozenset[str] = frozenset()
    min_count: int = 1
    within: timedelta | None = None
    after: timedelta = timedelta(0)
    expires: timedelta | None = None
    cooldown: timedelta | None = None
    description: str = ""

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> TriggerSpec:
        """Build from the YAML mapping (already schema-checked); raises ``ValueError``."""

        def duration(key: str) -> timedelta | None:  # absent or ``forever``: no limit
            return parse_window(data[key]) if data.get(key) is not None else None

        return cls(
            name=name,
            on=_names(data.get("on")),
            unless=_names(data.get("unless")),
            min_count=int(data.get("min_count", 1)),
            within=duration("within"),
            after=parse_duration(data["after"]) if data.get("after") is not None else timedelta(0),
            expires=duration("expires"),
            cooldown=duration("cooldown"),
            description=str(data.get("description", "")),
        )

    @property
    def horizon(self) -> timedelta | None:
        """How far back qualifying events count: the tighter of ``within``/``expires``."""
        spans = [s for s in (self.within, self.expires) if s is not None]
        return min(spans) if spans else None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"on": sorted(self.on)}
        if self.unless:
            data["unless"] = sorted(self.unless)
        if self.min_count != 1:
            data["min_count"] = self.min_count
        for key in ("within", "after", "expires", "cooldown"):
            value = getattr(self, key)
            if value:
                data[key] = format_duration(value)
        return data
