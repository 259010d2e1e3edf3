"""Helpers of the ESP tests: the documented sample payloads and signing like each provider."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent / "samples"
MAILGUN_KEY = "key-mailgun-signing-test"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark-hook", "s3cret-pw"


def sample(name: str) -> Any:
    return copy.deepcopy(json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8")))


def sendgrid_events(*kinds: str, email: str | None = None) -> list[dict[str, Any]]:
    """Events of the SendGrid reference batch (all, or those with ``event`` in ``kinds``)."""
    events = [e for e in sample("sendgrid_events") if not kinds or e["event"] in kinds]
    if email:
        for e in events:
            e["email"] = email
    return events


def new_sendgrid_keys() -> tuple[Any, str]:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(der).decode()


def sendgrid_headers(private_key: Any, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """Sign like SendGrid: ECDSA P-256/SHA-256 over timestamp + body, base64 DER in the header."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    timestamp = timestamp or str(int(time.time()))
    signature = private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


def mailgun_signed(
    payload: dict[str, Any],
    key: str = MAILGUN_KEY,
    token: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """``payload`` with its ``signature`` block recomputed with ``key`` (as Mailgun signs).

    Each call gets a fresh random token (Mailgun's are single-use) unless ``token`` is given.
    """
    import secrets

    token = token or secrets.token_hex(25)
    timestamp = timestamp or str(int(time.time()))
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {**payload, "signature": {"timestamp": timestamp, "token": token, "signature": signature}}


def mailgun_event(name: str, email: str | None = None, **changes: Any) -> dict[str, Any]:
    payload = sample(f"mailgun_{name}")
    if email:
        payload["event-data"]["recipient"] = email
    payload["event-data"].update(changes)
    return payload


def postmark_event(name: str, email: str | None = None, **changes: Any) -> dict[str, Any]:
    payload = sample(f"postmark_{name}")
    if email:
        payload["Email" if "Email" in payload else "Recipient"] = email
    payload.update(changes)
    return payload


def dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()
