"""Validation of Segment messages into :class:`Record`, the store's one input shape.

Consent convention: an identify's traits may carry ``consents`` (an object of
purpose → true/false) and/or ``consent_<purpose>`` booleans (the columns of
``profiles.csv``). Both update the profile's consents and are not kept as traits.
The ``email`` trait is normalized (trimmed, lowercased), becomes the profile's
email and an identity looked up by hash, and is not kept as a trait either.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tailor.profile import MAX_ID_LENGTH
from tailor.vocabulary.emails import email_address

from .errors import ValidationError
from .times import parse_time, utcnow

TYPES = ("identify", "track", "page", "screen", "group", "alias")
#: how far after its receive time a message's time may be before it is clamped to it
MAX_FUTURE_SKEW = timedelta(minutes=5)
#: the earliest time a message may carry
EARLIEST = datetime(1970, 1, 1)
#: where a stored event's context records tailor's corrections (``timestampClamped``: the client's time)
CONTEXT_KEY = "tailor"
CONSENT_PREFIX = "consent_"
#: traits the store also keeps in a column of this length (``profiles.locale``, ``profiles.timezone``)
COLUMN_TRAITS = {"locale": 35, "timezone": 64}


@dataclass
class Record:
    """One validated input: a Segment message, or a profile row (``store_event=False``)."""

    message_id: str
    type: str
    timestamp: datetime
    received_at: datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    previous_id: str | None = None
    event: str | None = None
    email: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    consents: dict[str, bool] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    store_event: bool = True
    #: when the person was first seen, if the input says so (``profiles.csv``)
    created_at: datetime | None = None
    #: what ``message_id`` is unique within: who the message is about (see :func:`dedup_scope`)
    scope: str = ""
    #: the JSON pointer of the message in its input, for warnings about it
    pointer: str = ""


def dedup_scope(user_id: str | None, anonymous_id: str | None) -> str:
    """The scope a ``messageId`` is unique in: the message's ``userId``, else its ``anonymousId``.

    Segment deduplicates per source; tailor has no sources (write keys rotate, files have
    none), so it scopes by who the message is about: a retry carries the same ids (a
    duplicate), while another person's message with the same id is stored too.
    """
    return f"user:{user_id}" if user_id is not None else f"anon:{anonymous_id}"


def generated_message_id(message: Mapping[str, Any]) -> str:
    """A deterministic id from the content, so a retried message without one is still deduplicated."""
    canonical = json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "gen-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def validate_message(message: Any, pointer: str = "", *, received_at: datetime | None = None) -> Record:
    """Check one Segment message; raise :class:`ValidationError` naming the bad field."""
    if type(message) is not dict and not isinstance(message, Mapping):  # (a dict skips the ABC check)
        raise ValidationError(pointer or "/", f"a message must be a JSON object, got {_kind(message)}")
    received_at = received_at or utcnow()

    kind = message.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        raise ValidationError(f"{pointer}/type", f"must be one of {', '.join(TYPES)}, got {kind!r}")

    user_id = _identifier(message, "userId", pointer)
    anonymous_id = _identifier(message, "anonymousId", pointer)
    if user_id is None and anonymous_id is None:
        raise ValidationError(f"{pointer}/userId", "userId or anonymousId is required")

    message_id = _message_id(message, pointer)
    for key in ("properties", "traits", "context"):
        value = message.get(key)
        if value is not None and type(value) is not dict and not isinstance(value, Mapping):
            raise ValidationError(f"{pointer}/{key}", f"must be an object, got {_kind(value)}")
    event = _event_name(message, kind, pointer)
    previous_id = _previous_id(message, kind, user_id, pointer)

    properties = dict(message.get("properties") or {})
    _check_products(properties, f"{pointer}/properties")
    timestamp, clamped_from = _timestamp(message, pointer, received_at)
    context = _with_clamp_noted(dict(message.get("context") or {}), clamped_from)

    record = Record(
        message_id=message_id,
        type=kind,
        timestamp=timestamp,
        received_at=received_at,
        user_id=user_id,
        anonymous_id=anonymous_id,
        previous_id=previous_id,
        event=event,
        properties=properties,
        context=context,
        scope=dedup_scope(user_id, anonymous_id),
        pointer=pointer,
    )
    if kind == "identify":
        record.traits, record.consents, record.email = split_traits(message.get("traits") or {}, f"{pointer}/traits")
    elif kind == "group" and message.get("traits"):
        # group traits describe the group, not the person: keep them with the event
        record.properties = {**properties, "traits": dict(message["traits"])}
    return record


def _message_id(message: Mapping[str, Any], pointer: str) -> str:
    """The sender's ``messageId``, or one derived from the content when it has none."""
    message_id = message.get("messageId")
    if message_id is None or message_id == "":
        return generated_message_id(message)
    if not isinstance(message_id, str):
        raise ValidationError(f"{pointer}/messageId", f"must be a string, got {_kind(message_id)}")
    if len(message_id) > MAX_ID_LENGTH:
        raise ValidationError(f"{pointer}/messageId", f"longer than {MAX_ID_LENGTH} characters")
    return message_id


def _event_name(message: Mapping[str, Any], kind: str, pointer: str) -> str | None:
    """A track call's ``event`` (required), or the ``name`` of a page, screen or group call."""
    if kind == "track":
        event = message.get("event")
        if not isinstance(event, str) or not event.strip():
            raise ValidationError(f"{pointer}/event", "required for track calls: a non-empty string")
        if len(event) > MAX_ID_LENGTH:
            raise ValidationError(f"{pointer}/event", f"longer than {MAX_ID_LENGTH} characters")
        return event
    if kind in ("page", "screen", "group"):
        name = message.get("name")
        if name is not None and not isinstance(name, str):
            raise ValidationError(f"{pointer}/name", f"must be a string, got {_kind(name)}")
        if name is not None and len(name) > MAX_ID_LENGTH:
            raise ValidationError(f"{pointer}/name", f"longer than {MAX_ID_LENGTH} characters")
        return name
    return None


def _previous_id(message: Mapping[str, Any], kind: str, user_id: str | None, pointer: str) -> str | None:
    """An alias call's ``previousId`` (it needs a ``userId`` too); None for other calls."""
    if kind != "alias":
        return None
    previous_id = _identifier(message, "previousId", pointer)
    if previous_id is None:
        raise ValidationError(f"{pointer}/previousId", "required for alias calls")
    if user_id is None:
        raise ValidationError(f"{pointer}/userId", "required for alias calls")
    return previous_id


def split_traits(traits: Mapping[str, Any], pointer: str) -> tuple[dict[str, Any], dict[str, bool], str | None]:
    """Traits → (plain traits, consents, normalized email), following the module's convention."""
    plain: dict[str, Any] = {}
    consents: dict[str, bool] = {}
    email: str | None = None
    for key, value in traits.items():
        if key == "email":
            if value is None or value == "":
                continue
            email = email_address(value)
            if email is None:
                raise ValidationError(f"{pointer}/email", "must be an email address")
        elif key == "consents":
            if not isinstance(value, Mapping):
                raise ValidationError(f"{pointer}/consents", f"must be an object, got {_kind(value)}")
            for purpose, granted in value.items():
                if not isinstance(granted, bool):
                    raise ValidationError(
                        f"{pointer}/consents/{_escape(purpose)}", f"must be true or false, got {granted!r}"
                    )
                consents[str(purpose)] = granted
        elif key.startswith(CONSENT_PREFIX) and len(key) > len(CONSENT_PREFIX):
            if not isinstance(value, bool):
                raise ValidationError(f"{pointer}/{_escape(key)}", f"must be true or false, got {value!r}")
            consents[key[len(CONSENT_PREFIX) :]] = value
        else:
            plain[key] = value
    check_column_traits(plain, pointer)
    return plain, consents, email


def check_column_traits(traits: Mapping[str, Any], pointer: str) -> None:
    """The traits the profiles table also keeps in a column (:data:`COLUMN_TRAITS`) fit it."""
    for key, longest in COLUMN_TRAITS.items():
        if traits.get(key) is not None and not isinstance(traits[key], str):
            raise ValidationError(f"{pointer}/{key}", f"must be a string, got {_kind(traits[key])}")
        if traits.get(key) is not None and len(traits[key]) > longest:
            raise ValidationError(f"{pointer}/{key}", f"longer than {longest} characters")


def _identifier(message: Mapping[str, Any], key: str, pointer: str) -> str | None:
    value = message.get(key)
    if value is None or value == "":
        return None
    if type(value) is str and len(value) <= MAX_ID_LENGTH:
        return value  # the common case, first
    # some Segment libraries send numeric ids; they are the same id as their text
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationError(f"{pointer}/{key}", f"must be a string, got {_kind(value)}")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(f"{pointer}/{key}", f"longer than {MAX_ID_LENGTH} characters")
    return value


def _timestamp(message: Mapping[str, Any], pointer: str, received_at: datetime) -> tuple[datetime, str | None]:
    """When the message happened, corrected like Segment does; and the client's time if it was clamped.

    The client's clock is ``originalTimestamp`` (else ``timestamp``). With ``sentAt``
    (when the client sent it, by the same clock) the skew is removed:
    ``receivedAt - (sentAt - clientTime)``, ``receivedAt`` being the message's own
    (a Segment export; the HTTP API removes it) else the time tailor received it. A
    time more than :data:`MAX_FUTURE_SKEW` after the receive time is clamped to the
    receive time: a far-future time would win every last-write-wins comparison forever.
    Unparseable or out-of-range times are a :class:`ValidationError` on their field.
    """
    parsed: dict[str, datetime] = {}
    for key in _TIME_FIELDS:
        value = message.get(key)
        if value is None:
            continue
        try:
            parsed[key] = parse_time(value)
        except (TypeError, ValueError):
            raise ValidationError(f"{pointer}/{key}", f"must be an ISO 8601 time, got {value!r}") from None
    field_name = "originalTimestamp" if "originalTimestamp" in parsed else "timestamp"
    if field_name not in parsed:
        return received_at, None
    when = parsed[field_name]
    if "sentAt" in parsed:
        try:
            when = parsed.get("receivedAt", received_at) - (parsed["sentAt"] - when)
        except OverflowError:
            raise ValidationError(
                f"{pointer}/{field_name}", "out of range once corrected for the clock skew given by `sentAt`"
            ) from None
    if when < EARLIEST:
        raise ValidationError(f"{pointer}/{field_name}", f"out of range: before {EARLIEST.year}")
    if when > received_at + MAX_FUTURE_SKEW:
        return received_at, _iso(when)
    return when, None


#: the times a message may carry, in the order :func:`_timestamp` reads them
_TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")


def _with_clamp_noted(context: dict[str, Any], clamped_from: str | None) -> dict[str, Any]:
    """``context`` with the client's clamped time kept under ``tailor.timestampClamped``."""
    if clamped_from is not None:
        noted = context.get(CONTEXT_KEY)
        context[CONTEXT_KEY] = {**(noted if isinstance(noted, Mapping) else {}), "timestampClamped": clamped_from}
    return context


def _iso(value: datetime) -> str:
    return value.isoformat() + "Z"


def _check_products(properties: Mapping[str, Any], pointer: str) -> None:
    products = properties.get("products")
    if products is None:
        return
    if not isinstance(products, list):
        raise ValidationError(f"{pointer}/products", f"must be an array, got {_kind(products)}")
    for i, product in enumerate(products):
        if not isinstance(product, Mapping):
            raise ValidationError(f"{pointer}/products/{i}", f"must be an object, got {_kind(product)}")


def _escape(token: Any) -> str:
    """A JSON pointer reference token (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )
