"""SendGrid (Twilio) Event Webhook: a JSON array of events, signed with ECDSA P-256.

Verification (SendGrid's "Signed Event Webhook"): the header
``X-Twilio-Email-Event-Webhook-Signature`` is a base64 DER ECDSA signature, made with
SHA-256, over ``X-Twilio-Email-Event-Webhook-Timestamp`` followed by the raw request
body; the public key (SendGrid shows it as base64 DER, PEM is accepted too) is
``TAILOR_SENDGRID_PUBLIC_KEY``. The signed timestamp must be within ±5 minutes of the
server clock (Twilio's advice), so a captured request cannot be replayed later; within
that window a replay only repeats events already stored (``sg_event_id`` makes it a
duplicate).

Events (``event``): processed, deferred, delivered, open, click, bounce (``type``:
``bounce`` = permanent, ``blocked`` = temporary), dropped (``reason`` says why — a drop
because the address is on SendGrid's bounce/unsubscribe/spam list is treated like that
event), spamreport, unsubscribe, group_unsubscribe, group_resubscribe. Idempotency key:
``sg_event_id`` (a hash of the event when it has none). SendGrid retries non-2xx
answers for 24 hours.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from typing import Any

from .events import (
    EspEvent,
    MalformedPayload,
    RequestParts,
    SignatureError,
    WebhookToken,
    check_fresh,
    clean_email,
    content_id,
    from_unix,
)

NAME = "sendgrid"
ENV = "TAILOR_SENDGRID_PUBLIC_KEY"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

_KINDS = {
    "processed": "sent",
    "deferred": "deferred",
    "delivered": "delivered",
    "open": "open",
    "click": "click",
    "bounce": "bounce",
    "dropped": "dropped",
    "spamreport": "spam",
    "spam_report": "spam",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
    "group_resubscribe": "resubscribe",
}

#: ``dropped`` reasons that mean the address is on one of SendGrid's suppression lists
_DROP_SUPPRESSIONS = {
    "bounced address": "hard_bounce",
    "invalid": "hard_bounce",
    "unsubscribed address": "unsubscribe",
    "spam reporting address": "spam_report",
}


def load_public_key(value: str | bytes) -> Any:
    """An ECDSA public key from base64 DER (what SendGrid shows) or PEM."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    raw = value.encode() if isinstance(value, str) else value
    raw = raw.strip()
    if raw.startswith(b"-----BEGIN"):
        key = load_pem_public_key(raw)
    else:
        try:
            der = base64.b64decode(b"".join(raw.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{ENV} is neither PEM nor base64 DER") from None
        key = load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError(f"{ENV} is not an ECDSA public key")
    return key


def verify(
    parts: RequestParts, public_key: Any, payload: Any = None, *, now: float | None = None
) -> WebhookToken | None:
    """Raise :class:`SignatureError` unless the body carries SendGrid's valid, fresh ECDSA signature.

    SendGrid sends no single-use token, so this returns None (``payload`` is unused:
    the signature covers the raw body).
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(public_key, (str, bytes)):
        public_key = load_public_key(public_key)
    signature = parts.header(SIGNATURE_HEADER)
    timestamp = parts.header(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise SignatureError(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    try:
        der = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{SIGNATURE_HEADER} is not base64") from None
    try:
        public_key.verify(der, timestamp.encode("utf-8") + parts.body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise SignatureError("the SendGrid signature does not match the body") from None
    check_fresh(timestamp, now, TIMESTAMP_HEADER)
    return None


def parse(payload: Any, skipped: Counter | None = None) -> list[EspEvent]:
    """SendGrid's JSON array → events; unusable entries are skipped and counted in ``skipped``."""
    skipped = skipped if skipped is not None else Counter()
    if not isinstance(payload, list):
        raise MalformedPayload("", "the SendGrid Event Webhook body is a JSON array of events")
    events = []
    for i, item in enumerate(payload):
        if not isinstance(item, dict):
            raise MalformedPayload(f"/{i}", "each event must be a JSON object")
        name = item.get("event")
        if not isinstance(name, str) or (kind := _KINDS.get(name)) is None:
            skipped["unknown-event"] += 1
            continue
        email = clean_email(item.get("email"))
        if email is None:
            skipped["no-recipient"] += 1
            continue
        occurred = from_unix(item.get("timestamp"), f"/{i}/timestamp")
        event_id = item.get("sg_event_id")
        if not isinstance(event_id, str) or not event_id:
            event_id = content_id(item)
        hard, reason, suppression = False, None, None
        if kind == "bounce":
            hard = item.get("type", "bounce") != "blocked"
            reason = _text(item.get("bounce_classification")) or _text(item.get("reason"))
        elif kind == "dropped":
            reason = _text(item.get("reason"))
            suppression = _DROP_SUPPRESSIONS.get((reason or "").strip().lower())
            hard = suppression == "hard_bounce"
        extra: dict[str, Any] = {}
        if kind == "open" and isinstance(item.get("sg_machine_open"), bool):
            extra["machine_open"] = item["sg_machine_open"]
        if isinstance(item.get("asm_group_id"), int):
            extra["asm_group_id"] = item["asm_group_id"]
        if item.get("category") is not None:
            extra["category"] = item["category"]
        if isinstance(item.get("status"), str):
            extra["status"] = item["status"]
        events.append(
            EspEvent(
                provider=NAME,
                kind=kind,
                email=email,
                occurred_at=occurred,
                event_id=event_id,
                message_id=_text(item.get("sg_message_id")),
                url=_text(item.get("url")) if kind == "click" else None,
                hard=hard,
                provider_event=name,
                reason=reason,
                suppression=suppression,
                extra=extra,
            )
        )
    return events


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
