"""Email normalization and the keyed hash emails are looked up by."""

from __future__ import annotations

import hashlib
import hmac

from tailor.vocabulary.emails import normalize_email


class EmailHasher:
    """HMAC-SHA256 of normalized emails with a per-database key."""

    def __init__(self, key: bytes):
        self._key = key

    def __call__(self, email: str) -> str:
        return hmac.new(self._key, normalize_email(email).encode("utf-8"), hashlib.sha256).hexdigest()
