"""The frequency cap (Klaviyo's "Smart Sending"): at most N marketing emails per person per period.

Declared once in ``rules/`` (``frequency_cap: {max: 1, per: 16h}``, read by the rules
loader with positions, so a mistake is reported at ``path:line:col``) and applied
wherever an email leaves: SMTP delivery (batch and trigger scans, in the journal's
claim) and ``/v1/render`` when the ESP passes a ``send_id`` (an abort reason). What
counts is the delivery journal: emails tailor sent and renders handed to an ESP.
Transactional templates (``transactional: true`` in their settings) neither count nor
are capped. Every decision is one trace entry (:func:`trace_entry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tailor.vocabulary.durations import format_duration


@dataclass(frozen=True)
class FrequencyCap:
    max: int
    per: timedelta
    description: str = ""

    def describe(self) -> str:
        return f"at most {self.max} marketing email{'s' if self.max != 1 else ''} per {format_duration(self.per)}"


def trace_entry(cap: FrequencyCap | None, *, marketing: bool, count: int | None = None) -> dict[str, Any]:
    """The decision as the trace shows it: ``{"frequency_cap": allowed|capped|exempt|none, …}``."""
    if cap is None:
        return {"frequency_cap": "none", "why": "no frequency_cap in rules/"}
    entry: dict[str, Any] = {"max": cap.max, "per": format_duration(cap.per)}
    if not marketing:
        return {"frequency_cap": "exempt", **entry, "why": "a transactional template: not capped, not counted"}
    capped = count is not None and count >= cap.max
    return {
        "frequency_cap": "capped" if capped else "allowed",
        **entry,
        "sent_in_period": count,
        "why": f"{count} marketing email(s) in the last {format_duration(cap.per)}; {cap.describe()}",
    }


def is_capped(entry: dict[str, Any]) -> bool:
    return entry.get("frequency_cap") == "capped"
