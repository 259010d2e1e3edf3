"""Who may call the send-time endpoints: a signature, a static token, or loopback in dev mode."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from ipaddress import ip_address

from flask import Request

from tailor.client import SIGNATURE_HEADER, SignatureError, verify
from tailor.config import Settings


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class AuthResult:
    ok: bool
    method: str = ""
    reason: str = ""


def _bearer_or_basic(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if request.authorization and request.authorization.type == "basic":
        return request.authorization.username or None
    return None


def authenticate(request: Request, settings: Settings, *, bind_host: str) -> AuthResult:
    """Accept a valid ``X-Tailor-Signature``, or a static API token (Bearer or basic-auth user).

    With neither a secret nor a token configured, requests are accepted only when the
    server listens on loopback — the embedded/dev mode — and refused otherwise.
    """
    token = _bearer_or_basic(request)
    if token and settings.api_tokens:
        matched = False
        for known in settings.api_tokens:
            matched |= hmac.compare_digest(token.encode(), known.encode())
        if matched:
            return AuthResult(True, "token")
    header = request.headers.get(SIGNATURE_HEADER)
    if settings.secret and header:
        try:
            verify(request.get_data(cache=True), header, settings.secret)
            return AuthResult(True, "signature")
        except SignatureError as exc:
            return AuthResult(False, reason=str(exc))
    if settings.secret or settings.api_tokens:
        if token:
            return AuthResult(False, reason="unknown API token")
        return AuthResult(False, reason=f"send an {SIGNATURE_HEADER} signature or an API token")
    if is_loopback(bind_host):
        return AuthResult(True, "loopback")
    return AuthResult(
        False,
        reason="no TAILOR_SECRET or TAILOR_API_TOKENS configured: unauthenticated calls are only accepted on loopback",
    )
