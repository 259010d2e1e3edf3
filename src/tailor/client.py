"""Client helpers for callers of tailor's webhooks: request signing (Stripe's scheme)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

SIGNATURE_HEADER = "X-Tailor-Signature"
#: seconds a signature stays valid either side of the server's clock
TOLERANCE_SECONDS = 300


def sign(body: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """The ``X-Tailor-Signature`` value for ``body``: ``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode("utf-8"), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


class SignatureError(ValueError):
    """The signature header is missing, malformed, expired or does not match."""


def verify(
    body: bytes,
    header: str | None,
    secrets: Iterable[str],
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Check a signature against every accepted secret (rotation) in constant time."""
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    stamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                stamp = int(value)
            except ValueError:
                raise SignatureError("t= is not a unix timestamp") from None
        elif key == "v1":
            candidates.append(value)
    if stamp is None or not candidates:
        raise SignatureError(f"{SIGNATURE_HEADER} must look like t=<unix>,v1=<hex>")
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        raise SignatureError(f"signature timestamp is outside the {tolerance} s tolerance")
    signed = f"{stamp}.".encode() + body
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
        for candidate in candidates:
            # no early exit: the time taken does not depend on which secret matched
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("signature does not match")


def signed_request(payload: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """Body and headers for a signed JSON POST to ``/v1/render``."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}
