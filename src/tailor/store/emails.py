"""Email normalization and the keyed hash emails are looked up by."""

from __future__ import annotations

import hashlib
import hmac


def normalize_email(value: str) -> str:
    """Trimmed and lowercased — the one form an address is compared and stored in."""
    return value.strip().lower()


def looks_like_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and domain and " " not in value)


class EmailHasher:
    """HMAC-SHA256 of normalized emails with a per-database key."""

    def __init__(self, key: bytes):
        self._key = key

    def __call__(self, email: str) -> str:
        return hmac.new(self._key, normalize_email(email).encode("utf-8"), hashlib.sha256).hexdigest()
