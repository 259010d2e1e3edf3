"""Postmark webhooks: one JSON object per request, told apart by ``RecordType``.

Postmark signs nothing; it sends the HTTP basic-auth credentials written into the
webhook URL (``https://user:password@host/v1/esp/postmark``). They are compared, in
constant time, with ``TAILOR_POSTMARK_USER`` / ``TAILOR_POSTMARK_PASSWORD``; both must be
set (a user without a password would accept an empty one): otherwise the route is
disabled. Basic auth has no timestamp, so a captured request can be replayed — it only
repeats events already stored (their ids make it a duplicate); keep the URL secret and
on HTTPS.

Record types: Delivery, Open, Click, Bounce (``Type`` ``HardBounce``, ``BadEmailAddress``,
``ManuallyDeactivated`` or ``Inactive: true`` = hard; ``SoftBounce``, ``Transient``… =
soft; ``Unsubscribe``/``SpamComplaint`` types are unsubscribes/spam reports),
SpamComplaint, SubscriptionChange (``SuppressSending`` true = the address was
suppressed for ``SuppressionReason``; false = reactivated, recorded as "Resubscribed" but
tailor's own suppression stays until removed by hand).

Idempotency keys: the bounce/complaint ``ID``; Delivery: ``MessageID`` + RecordType;
Open/Click: ``MessageID`` + RecordType + ``ReceivedAt`` (+ link), so a second open is a
second event while a retry of the same one is not; SubscriptionChange: ``MessageID`` +
``ChangedAt`` + ``SuppressSending``.
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from .events import (
    EspEvent,
    MalformedPayload,
    RequestParts,
    SignatureError,
    WebhookToken,
    clean_email,
    content_id,
    from_iso,
)

NAME = "postmark"
ENV_USER = "TAILOR_POSTMARK_USER"
ENV_PASSWORD = "TAILOR_POSTMARK_PASSWORD"

_HARD_TYPES = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
_SUPPRESSION_KINDS = {
    "HardBounce": ("bounce", True),
    "SpamComplaint": ("spam", False),
    "ManualSuppression": ("unsubscribe", False),
}


def verify(
    parts: RequestParts, credentials: tuple[str, str], payload: Any = None, *, now: float | None = None
) -> WebhookToken | None:
    """Raise :class:`SignatureError` unless the basic-auth user and password match (both non-empty).

    Postmark sends no token or timestamp: this returns None.
    """
    user, password = credentials
    if not user or not password:  # never compare against an empty secret
        raise SignatureError("Postmark webhook credentials are not configured")
    given_user = (parts.username or "").encode("utf-8")
    given_password = (parts.password or "").encode("utf-8")
    ok = hmac.compare_digest(given_user, user.encode("utf-8"))
    ok &= hmac.compare_digest(given_password, password.encode("utf-8"))
    if parts.username is None or not ok:
        raise SignatureError("wrong or missing HTTP basic-auth credentials")
    return None


def parse(payload: Any, skipped: Counter | None = None) -> list[EspEvent]:
    """One Postmark webhook body → one event (none when unusable: counted in ``skipped``)."""
    skipped = skipped if skipped is not None else Counter()
    if not isinstance(payload, dict):
        raise MalformedPayload("", "a Postmark webhook body is a JSON object")
    record = payload.get("RecordType")
    if not isinstance(record, str) or not record:
        raise MalformedPayload("/RecordType", "required: the record type")
    message_id = _text(payload.get("MessageID"))
    extra: dict[str, Any] = {}
    if _text(payload.get("Tag")):
        extra["tag"] = payload["Tag"]
    if _text(payload.get("MessageStream")):
        extra["message_stream"] = payload["MessageStream"]
    reader = _READERS.get(record)
    if reader is None:
        skipped["unknown-event"] += 1
        return []
    email, kind, occurred, event_id, hard, reason, url = reader(payload, record, message_id, extra)
    email = clean_email(email)
    if email is None:
        skipped["no-recipient"] += 1
        return []
    return [
        EspEvent(
            provider=NAME,
            kind=kind,
            email=email,
            occurred_at=occurred,
            event_id=event_id,
            message_id=message_id,
            url=url,
            hard=hard,
            provider_event=record,
            reason=reason,
            extra=extra,
        )
    ]


class _Fields(NamedTuple):
    """What one record type says, before the recipient is checked."""

    email: Any
    kind: str
    occurred: datetime
    event_id: str
    hard: bool
    reason: str | None
    url: str | None


def _delivery(payload: dict[str, Any], record: str, message_id: str | None, extra: dict[str, Any]) -> _Fields:
    occurred = from_iso(payload.get("DeliveredAt"), "/DeliveredAt")
    return _Fields(payload.get("Recipient"), "delivered", occurred, f"{message_id}:Delivery", False, None, None)


def _open_or_click(payload: dict[str, Any], record: str, message_id: str | None, extra: dict[str, Any]) -> _Fields:
    occurred = from_iso(payload.get("ReceivedAt"), "/ReceivedAt")
    url = _text(payload.get("OriginalLink")) if record == "Click" else None
    event_id = f"{message_id}:{record}:{payload.get('ReceivedAt')}:{url or ''}"
    if record == "Open" and isinstance(payload.get("FirstOpen"), bool):
        extra["first_open"] = payload["FirstOpen"]
    kind = "open" if record == "Open" else "click"
    return _Fields(payload.get("Recipient"), kind, occurred, event_id, False, None, url)


def _bounce_or_complaint(
    payload: dict[str, Any], record: str, message_id: str | None, extra: dict[str, Any]
) -> _Fields:
    bounce_type = _text(payload.get("Type")) or ""
    occurred = from_iso(payload.get("BouncedAt"), "/BouncedAt")
    if record == "SpamComplaint" or bounce_type in ("SpamComplaint",):
        kind, hard = "spam", False
    elif bounce_type == "Unsubscribe":
        kind, hard = "unsubscribe", False
    else:
        kind, hard = "bounce", bounce_type in _HARD_TYPES or payload.get("Inactive") is True
    raw_id = payload.get("ID")
    event_id = f"{record}:{raw_id}" if raw_id not in (None, "") else content_id(payload)
    if bounce_type:
        extra["bounce_type"] = bounce_type
    return _Fields(payload.get("Email"), kind, occurred, event_id, hard, bounce_type or None, None)


def _subscription_change(
    payload: dict[str, Any], record: str, message_id: str | None, extra: dict[str, Any]
) -> _Fields:
    occurred = from_iso(payload.get("ChangedAt"), "/ChangedAt")
    suppress = payload.get("SuppressSending")
    if not isinstance(suppress, bool):
        raise MalformedPayload("/SuppressSending", "required: true or false")
    reason = _text(payload.get("SuppressionReason"))
    if suppress:
        kind, hard = _SUPPRESSION_KINDS.get(reason or "", ("unsubscribe", False))
    else:
        kind, hard = "resubscribe", False
    event_id = f"{message_id}:SubscriptionChange:{payload.get('ChangedAt')}:{suppress}"
    if _text(payload.get("Origin")):
        extra["origin"] = payload["Origin"]
    return _Fields(payload.get("Recipient"), kind, occurred, event_id, hard, reason, None)


#: a reader per ``RecordType``; it may add provider details to ``extra``
_READERS: dict[str, Callable[[dict[str, Any], str, str | None, dict[str, Any]], _Fields]] = {
    "Delivery": _delivery,
    "Open": _open_or_click,
    "Click": _open_or_click,
    "Bounce": _bounce_or_complaint,
    "SpamComplaint": _bounce_or_complaint,
    "SubscriptionChange": _subscription_change,
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
