"""Build the names conditions see from a profile document (SPEC.md's JSON shape).

``Tailor.render`` does the same with more sources (store, ESP traits, recs); this
is the minimal, dependency-free path used by tests, previews and ``decide_for``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tailor.features import compute_features
from tailor.triggers import evaluate_triggers
from tailor.triggers.timestamps import to_utc


def personalized(document: Mapping[str, Any]) -> bool:
    """Personalization consent; a profile that says nothing is not treated as refusing."""
    consents = document.get("consents") or {}
    return consents.get("personalization", True) is not False


def local_now(at: datetime, traits: Mapping[str, Any]) -> datetime:
    """``at`` in the recipient's time zone (UTC when unknown or invalid)."""
    moment = to_utc(at)
    zone = traits.get("timezone")
    if isinstance(zone, str) and zone:
        try:
            return moment.astimezone(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return moment


def build_context(
    document: Mapping[str, Any],
    at: datetime,
    book: Any = None,
    *,
    catalog: Mapping[str, dict] | None = None,
    context: Mapping[str, Any] | None = None,
    recs: list | None = None,
    fired: Any = None,
) -> dict[str, Any]:
    """``profile`` (traits + id + email + features), ``triggers``, ``segments``, ``now``, ..."""
    traits = dict(document.get("traits") or {})
    events = list(document.get("events") or [])
    profile = {**traits, "id": document.get("id"), "email": document.get("email") or traits.get("email")}
    profile.update(compute_features(events, at, catalog=catalog, traits=traits))
    specs = book.triggers if book is not None else {}
    ctx: dict[str, Any] = {
        "profile": profile,
        "triggers": evaluate_triggers(specs, events, at, catalog=catalog, fired=fired),
        "segments": [],
        "recs": list(recs or []),
        "context": dict(context or {}),
        "now": local_now(at, traits),
    }
    if book is not None:
        ctx["segments"] = book.segments_for(ctx, personalized=personalized(document))
    return ctx
