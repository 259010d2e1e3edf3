"""Mailgun webhooks (the current, JSON ones): ``{"signature": {...}, "event-data": {...}}``.

Verification: ``signature.signature`` is the hex HMAC-SHA256, keyed with the HTTP
webhook signing key (``TAILOR_MAILGUN_SIGNING_KEY``), of ``signature.timestamp``
followed by ``signature.token``. The signature is in the body, so the body is parsed
before it is verified. The signature covers only the timestamp and the token, not the
event data — so, as Mailgun advises, the timestamp must be within ±5 minutes of the
server clock (digits only) and the signature is single-use
(:class:`~tailor.esp.events.WebhookToken`, remembered in the store until it expires):
otherwise anyone who once saw a webhook could attach its signature to invented events
(unsubscribe or "complain" anyone). The signature value — not the token — is what is
claimed: the HMAC input is the bare concatenation, so ``("1764489600", "e0ab…")`` and
``("1764489600e0", "ab…")`` sign the same bytes and only a "new" token would differ.

Events (``event-data.event``): accepted, rejected, delivered, failed (``severity``:
``permanent`` = hard bounce, ``temporary`` = soft), opened, clicked, unsubscribed,
complained. Idempotency key: ``event-data.id`` with ``event-data.timestamp`` (Mailgun
only promises the id to be unique within a day). Mailgun answers: 200 done, 406 rejected
(never retried), anything else retried for about 8 hours — so a payload that can never
be accepted gets 406.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from typing import Any

from tailor import strict_json
from tailor.strict_json import InvalidJSON

from .events import (
    EspEvent,
    MalformedPayload,
    RequestParts,
    SignatureError,
    WebhookToken,
    check_fresh,
    clean_email,
    from_unix,
    token_expiry,
)

NAME = "mailgun"
ENV = "TAILOR_MAILGUN_SIGNING_KEY"
#: Mailgun's tokens are 50 characters; anything far longer is not one (and must fit the store)
MAX_FIELD_LENGTH = 255

_KINDS = {
    "accepted": "sent",
    "rejected": "dropped",
    "delivered": "delivered",
    "failed": "bounce",
    "opened": "open",
    "clicked": "click",
    "unsubscribed": "unsubscribe",
    "complained": "spam",
}


def signature_fields(payload: Any) -> tuple[str, str, str]:
    """(timestamp, token, signature) from the body's ``signature`` object; SignatureError if absent."""
    block = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(block, dict):
        raise SignatureError("the body has no `signature` object")
    values = []
    for key in ("timestamp", "token", "signature"):
        value = block.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "timestamp":
            value = str(value)
        if not isinstance(value, str) or not value:
            raise SignatureError(f"`signature.{key}` is missing")
        if len(value) > MAX_FIELD_LENGTH:
            raise SignatureError(f"`signature.{key}` is longer than {MAX_FIELD_LENGTH} characters")
        values.append(value)
    return values[0], values[1], values[2]


def verify(parts: RequestParts, signing_key: str, payload: Any = None, *, now: float | None = None) -> WebhookToken:
    """The request's single-use token, once ``signature.signature`` is HMAC-SHA256(key, timestamp + token)
    and the timestamp is fresh; :class:`SignatureError` otherwise.

    The caller must have the store claim the returned token (refusing a replay) in the
    transaction that stores the events.
    """
    if payload is None:
        try:
            payload = strict_json.loads(parts.body)
        except InvalidJSON:
            raise SignatureError("the body is not JSON, so it carries no signature") from None
    timestamp, token, signature = signature_fields(payload)
    expected = hmac.new(signing_key.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256).hexdigest()
    # bytes: compare_digest raises TypeError on a str with non-ASCII characters (a 500 for
    # anyone who posted "signature": "é")
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode("utf-8")):
        raise SignatureError("the Mailgun signature does not match")
    signed_at = check_fresh(timestamp, now, "`signature.timestamp`")
    # the single-use key is what was signed, not the token: a token alone could be made
    # "new" by moving characters across the timestamp/token boundary of the same HMAC input
    return WebhookToken(NAME, expected, _digest(payload.get("event-data")), token_expiry(signed_at))


def _digest(event_data: Any) -> str:
    """What the token was sent with: a retry has the same event data, a replay does not."""
    canonical = json.dumps(event_data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse(payload: Any, skipped: Counter | None = None) -> list[EspEvent]:
    """One Mailgun webhook body → one event (none when it is unusable: counted in ``skipped``)."""
    skipped = skipped if skipped is not None else Counter()
    if not isinstance(payload, dict):
        raise MalformedPayload("", "a Mailgun webhook body is a JSON object")
    data = payload.get("event-data")
    if not isinstance(data, dict):
        raise MalformedPayload("/event-data", "required: an object")
    name = data.get("event")
    if not isinstance(name, str) or not name:
        raise MalformedPayload("/event-data/event", "required: the event name")
    kind = _KINDS.get(name)
    if kind is None:
        skipped["unknown-event"] += 1
        return []
    email = clean_email(data.get("recipient"))
    if email is None:
        skipped["no-recipient"] += 1
        return []
    occurred = from_unix(data.get("timestamp"), "/event-data/timestamp")
    raw_id = data.get("id")
    if not isinstance(raw_id, str) or not raw_id:
        raise MalformedPayload("/event-data/id", "required: the event id")
    event_id = f"{raw_id}@{data.get('timestamp')}"
    hard = False
    reason = None
    if kind == "bounce":
        hard = data.get("severity") == "permanent"
        reason = _text(data.get("reason"))
        status = data.get("delivery-status")
        if isinstance(status, dict) and _text(status.get("description") or status.get("message")):
            reason = (
                f"{reason}: {status.get('description') or status.get('message')}"
                if reason
                else _text(status.get("description") or status.get("message"))
            )
    elif kind == "dropped":
        reject = data.get("reject")
        reason = _text(reject.get("reason")) if isinstance(reject, dict) else None
    message = data.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    message_id = _text(headers.get("message-id")) if isinstance(headers, dict) else None
    extra: dict[str, Any] = {}
    if isinstance(data.get("tags"), list):
        extra["tags"] = data["tags"]
    if kind == "bounce" and isinstance(data.get("severity"), str):
        extra["severity"] = data["severity"]
    return [
        EspEvent(
            provider=NAME,
            kind=kind,
            email=email,
            occurred_at=occurred,
            event_id=event_id,
            message_id=message_id,
            url=_text(data.get("url")) if kind == "click" else None,
            hard=hard,
            provider_event=name,
            reason=reason,
            extra=extra,
        )
    ]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
