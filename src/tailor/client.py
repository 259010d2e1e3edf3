"""Client helpers for callers of tailor's webhooks: request signing (Stripe's scheme, bound to the request).

The signature is ``X-Tailor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over the
canonical string ``"<t>.<METHOD>.<path?query>.<body>"``. Stripe's scheme signs only the
timestamp and the body; binding the method and the request target as well means a
captured signature for a body-less ``GET /v1/content/...`` cannot be replayed against
``GET /v1/profiles/<id>/export`` or ``DELETE /v1/profiles/<id>`` (same empty body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Tailor-Signature"
#: seconds a signature stays valid either side of the server's clock
TOLERANCE_SECONDS = 300


def request_target(url: str) -> str:
    """The ``path?query`` part of ``url`` as it goes on the request line (what the signature binds)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


#: methods whose requests have no body: a signed one that carries a body is refused
BODILESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


def canonical(timestamp: int, method: str, path: str, body: bytes) -> bytes:
    """The bytes that are signed: ``"<t>.<METHOD>.<path?query>.<body>"``."""
    return f"{int(timestamp)}.{method.upper()}.{path}.".encode() + body


def sign(body: bytes | str, secret: str, timestamp: int | None = None, *, method: str, path: str) -> str:
    """The ``X-Tailor-Signature`` value for one request.

    ``path`` is the request target as sent: the percent-encoded path plus ``?query``
    when there is a query string (:func:`request_target` derives it from a URL).
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode("utf-8"), canonical(stamp, method, path, body), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


class SignatureError(ValueError):
    """The signature header is missing, malformed, expired or does not match."""


def verify(
    body: bytes,
    header: str | None,
    secrets: Iterable[str],
    *,
    method: str,
    path: str,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Check a signature for ``method path body`` against every accepted secret (rotation), in constant time."""
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    if body and method.upper() in BODILESS_METHODS:
        # the signed string joins its fields with dots, and paths hold dots (emails): without
        # this rule a signature for ``DELETE /v1/profiles/ann@example.org.uk`` would also sign
        # ``DELETE /v1/profiles/ann@example.org`` with the body ``uk.``
        raise SignatureError(f"a signed {method.upper()} request carries no body")
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
    signed = canonical(stamp, method, path, body)
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
        for candidate in candidates:
            # no early exit: the time taken does not depend on which secret matched
            matched |= hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))
    if not matched:
        raise SignatureError("signature does not match this request (method, path, query and body are signed)")


def signed_request(
    payload: dict[str, Any], secret: str, *, path: str = "/v1/render", method: str = "POST"
) -> tuple[bytes, dict[str, str]]:
    """Body and headers for a signed JSON request (by default a ``POST /v1/render``)."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret, method=method, path=path)}


def signed_headers(method: str, url: str, secret: str, body: bytes = b"") -> dict[str, str]:
    """The signature header for any request to ``url`` (e.g. a body-less ``GET /v1/content/...``)."""
    return {SIGNATURE_HEADER: sign(body, secret, method=method, path=request_target(url))}
