"""The provider-neutral ESP event, its suppression rule and its Segment form."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tailor.vocabulary.emails import email_address
from tailor.vocabulary.times import NotATime, parse_iso

#: event kinds, and the Segment "Email" spec event name each one is stored under
SEGMENT_NAMES = {
    "sent": "Email Sent",  # accepted/processed by the ESP
    "delivered": "Email Delivered",
    "deferred": "Email Deferred",  # a delivery attempt that will be retried
    "open": "Email Opened",
    "click": "Email Link Clicked",
    "bounce": "Email Bounced",  # ``hard`` says permanent (hard) or not (soft/blocked)
    "dropped": "Email Dropped",  # the ESP did not even try (often: address on its suppression list)
    "spam": "Email Marked as Spam",
    "unsubscribe": "Unsubscribed",
    "resubscribe": "Resubscribed",
}

#: how far a signed webhook timestamp may be from the server clock, either way (seconds):
#: Mailgun's and Twilio's advice, and the window :class:`WebhookToken` s are remembered for
TOLERANCE_SECONDS = 300

#: suppression reasons written to the store
UNSUBSCRIBE, SPAM_REPORT, HARD_BOUNCE = "unsubscribe", "spam_report", "hard_bounce"


class SignatureError(Exception):
    """The request is not authentic (bad or missing signature / credentials): HTTP 401."""


class MalformedPayload(ValueError):
    """The payload is not in the provider's format: HTTP 400 (406 for Mailgun, so it stops retrying)."""

    def __init__(self, pointer: str, message: str):
        self.pointer = pointer
        self.message = message
        super().__init__(f"{pointer or '/'}: {message}")


@dataclass(frozen=True)
class WebhookToken:
    """A single-use token a verified request carried (for Mailgun, its signature value).

    The store remembers it until ``expires_at`` (when the timestamp check would refuse
    it anyway): the same token with other content is a replay and is refused; the same
    token with the same content (``digest``) is the provider retrying, and is answered
    like any duplicate.
    """

    provider: str
    token: str
    digest: str
    expires_at: datetime


#: a signed timestamp: whole unix seconds, digits only (what Mailgun and SendGrid send)
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def check_fresh(timestamp: str, now: float | None, what: str) -> float:
    """The signed unix ``timestamp`` as a number; SignatureError when outside ±TOLERANCE_SECONDS of ``now``.

    A signature binds its timestamp, so this is what stops a captured request from
    being replayed later (and, with new event data, ever). Digits only: ``float()``
    would also take ``"1764489600e0"``, ``" 1764489600"`` or ``"1_764_489_600"`` — other
    spellings of the same signed bytes when the signature covers timestamp + token
    concatenated, so a replay could move characters between the two.
    """
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise SignatureError(f"{what} is not unix seconds (digits only)")
    seconds = float(timestamp)
    now = time.time() if now is None else now
    if not abs(now - seconds) <= TOLERANCE_SECONDS:  # also refuses NaN
        raise SignatureError(f"{what} is more than {TOLERANCE_SECONDS} s away from the server clock")
    return seconds


def token_expiry(signed_at: float) -> datetime:
    """When a token signed at ``signed_at`` can be forgotten: its timestamp is then refused anyway."""
    return datetime.fromtimestamp(signed_at, tz=UTC).replace(tzinfo=None) + timedelta(seconds=TOLERANCE_SECONDS + 60)


@dataclass(frozen=True)
class RequestParts:
    """What a verifier needs of an HTTP request: the raw body, the headers, basic-auth credentials."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True)
class EspEvent:
    """One email event from an ESP webhook, whatever the provider.

    ``event_id`` identifies the event at the provider (stable across the provider's
    retries) and makes storing it idempotent. ``suppression`` is the reason this event
    must stop future sends (unsubscribe, hard bounce, spam report), or None.
    """

    provider: str
    kind: str
    email: str
    occurred_at: datetime
    event_id: str
    message_id: str | None = None
    url: str | None = None
    hard: bool = False
    #: the provider's own event name (``bounce``/``failed``/``Bounce``…)
    provider_event: str = ""
    #: the provider's classification/reason text, when it gives one
    reason: str | None = None
    suppression: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in SEGMENT_NAMES:
            raise ValueError(f"unknown event kind {self.kind!r}")
        if self.suppression is None:
            object.__setattr__(self, "suppression", default_suppression(self.kind, self.hard))


def default_suppression(kind: str, hard: bool) -> str | None:
    """Unsubscribes, spam reports and hard bounces stop future sends; nothing else does."""
    if kind == "unsubscribe":
        return UNSUBSCRIBE
    if kind == "spam":
        return SPAM_REPORT
    if kind == "bounce" and hard:
        return HARD_BOUNCE
    return None


def message_id_for(provider: str, event_id: str) -> str:
    """The Segment ``messageId`` of a provider event: deterministic, so a retry is a duplicate."""
    digest = hashlib.sha256(f"{provider}\x00{event_id}".encode()).hexdigest()[:40]
    return f"esp-{provider}-{digest}"


def content_id(event: Mapping[str, Any]) -> str:
    """An id for an event the provider sent without one: a hash of its content (stable across retries)."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def to_segment(event: EspEvent) -> dict[str, Any]:
    """A Segment ``track`` message for ``event``.

    It has no ``userId``/``anonymousId``: the recipient is ``context.traits.email``,
    which :meth:`tailor.store.Store.ingest_email_events` resolves to a profile.
    """
    properties: dict[str, Any] = {
        "provider": event.provider,
        "esp_event": event.provider_event,
        "esp_event_id": event.event_id,
    }
    if event.message_id:
        properties["esp_message_id"] = event.message_id
    if event.url:
        properties["url"] = event.url
    if event.kind in ("bounce", "dropped"):
        properties["hard"] = event.hard
    if event.reason:
        properties["reason"] = event.reason
    if event.suppression:
        properties["suppression"] = event.suppression
    properties.update({k: v for k, v in event.extra.items() if k not in properties})
    occurred = event.occurred_at.astimezone(UTC) if event.occurred_at.tzinfo else event.occurred_at
    return {
        "type": "track",
        "event": SEGMENT_NAMES[event.kind],
        "messageId": message_id_for(event.provider, event.event_id),
        "timestamp": occurred.replace(tzinfo=None).isoformat() + "Z",
        "properties": properties,
        "context": {"traits": {"email": event.email}, "library": {"name": f"tailor-esp-{event.provider}"}},
    }


def from_unix(value: Any, pointer: str) -> datetime:
    """A UTC datetime from unix seconds (int, float or numeric string)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise MalformedPayload(pointer, f"must be unix seconds, got {value!r}") from None
    if isinstance(value, bool) or seconds != seconds or not (0 <= seconds < 253402300800):
        raise MalformedPayload(pointer, f"must be unix seconds, got {value!r}")
    return datetime.fromtimestamp(seconds, tz=UTC)


def from_iso(value: Any, pointer: str) -> datetime:
    """A UTC datetime from ISO 8601 (Postmark sends 7 fractional digits and offsets)."""
    if not isinstance(value, str):
        raise MalformedPayload(pointer, f"must be an ISO 8601 time, got {value!r}")
    try:
        return parse_iso(value)
    except NotATime:
        raise MalformedPayload(pointer, f"must be an ISO 8601 time, got {value!r}") from None


#: the recipient address (trimmed, lowercased), or None when it is not one
clean_email = email_address
