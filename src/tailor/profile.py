"""The profile document (SPEC.md) — validation, and the ``profile`` object templates see."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from tailor.email import InvalidInput
from tailor.vocabulary.consent import PURPOSES, consent
from tailor.vocabulary.times import NotATime, parse_iso

#: the longest id, messageId, event name and send id: the store's columns' length (PostgreSQL
#: enforces it, SQLite does not)
MAX_ID_LENGTH = 255


def fitted_id(key: str) -> str:
    """``key`` as the store's id columns can hold it: itself when it fits, else its first 100
    characters and a SHA-256 of the whole. Send ids are made of parts (a trigger, a profile id,
    a campaign name) that each fit while together they may not; the fitted form is the same for
    the same key, so a re-run still finds what it recorded, and still says whose send it is."""
    if len(key) <= MAX_ID_LENGTH:
        return key
    return f"{key[:100]}~{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"


CONSENT_PURPOSES = PURPOSES
_PROFILE_KEYS = {"id", "email", "user_id", "anonymous_id", "traits", "consents", "events", "identities", "schema"}


def validate_profile(doc: Any, pointer: str = "", *, events_from_store: bool = False) -> dict[str, Any]:
    """Check the shape of a profile document and return a normalized copy.

    Raises :class:`InvalidInput` naming the bad field as a JSON pointer. ``events_from_store``:
    the store made the document's events from its typed columns (``_event_document`` in
    :mod:`tailor.store.documents`: the time an ISO string of a stored ``DateTime``, the
    properties a dict), so they are not checked again on every send; a time a hand-edited
    database made unreadable is skipped like any other (:func:`~tailor.vocabulary.times.to_utc`).
    """
    if not isinstance(doc, Mapping):
        raise InvalidInput(f"a profile must be a JSON object, got {type(doc).__name__}", pointer or "/")
    _check_ids(doc, pointer)
    traits = doc.get("traits") if doc.get("traits") is not None else {}
    if not isinstance(traits, Mapping):
        raise InvalidInput(f"must be an object, got {type(traits).__name__}", f"{pointer}/traits")
    consents = doc.get("consents") if doc.get("consents") is not None else {}
    if not isinstance(consents, Mapping):
        raise InvalidInput(f"must be an object, got {type(consents).__name__}", f"{pointer}/consents")
    for purpose, value in consents.items():
        if not isinstance(value, bool) and value is not None:
            raise InvalidInput(f"must be true or false, got {value!r}", f"{pointer}/consents/{purpose}")
    events = doc.get("events") if doc.get("events") is not None else []
    if not isinstance(events, list):
        raise InvalidInput(f"must be an array, got {type(events).__name__}", f"{pointer}/events")
    for i, event in enumerate(() if events_from_store else events):
        # every event of the document, on every send: the exact types (what JSON decodes to)
        # are checked first, the ABC checks only for other mappings
        if type(event) is not dict and not isinstance(event, Mapping):
            raise InvalidInput("must be an object", f"{pointer}/events/{i}")
        stamp = event.get("timestamp")
        if not isinstance(stamp, str):
            raise InvalidInput("must be an ISO 8601 string", f"{pointer}/events/{i}/timestamp")
        try:
            parse_iso(stamp)
        except NotATime:
            raise InvalidInput(f"not an ISO 8601 time: {stamp!r}", f"{pointer}/events/{i}/timestamp") from None
        properties = event.get("properties")
        if properties is not None and type(properties) is not dict and not isinstance(properties, Mapping):
            raise InvalidInput("must be an object", f"{pointer}/events/{i}/properties")
    normalized = dict(doc)
    normalized["traits"] = dict(traits)
    normalized["consents"] = dict(consents)
    normalized["events"] = list(events)
    if normalized.get("id") is not None:
        normalized["id"] = str(normalized["id"])
    return normalized


def template_profile(doc: Mapping[str, Any], features: Mapping[str, Any]) -> dict[str, Any]:
    """What templates and conditions see as ``profile``: traits, computed features, id, email, consents."""
    profile: dict[str, Any] = {}
    profile.update(features)
    profile.update(doc.get("traits") or {})
    profile["id"] = doc.get("id")
    if doc.get("email") is not None:
        profile["email"] = doc.get("email")
    profile["consents"] = {p: consent(doc, p) for p in CONSENT_PURPOSES}
    return profile


def _check_ids(doc: Mapping[str, Any], pointer: str) -> None:
    for key in ("id", "email", "user_id"):
        if doc.get(key) is not None and not isinstance(doc[key], (str, int)):
            raise InvalidInput(f"must be a string, got {type(doc[key]).__name__}", f"{pointer}/{key}")
        if key != "email" and len(str(doc.get(key) or "")) > MAX_ID_LENGTH:  # a send records it
            raise InvalidInput(f"longer than {MAX_ID_LENGTH} characters", f"{pointer}/{key}")
