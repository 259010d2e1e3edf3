"""Signed one-click unsubscribe links (RFC 8058) and the headers that carry them.

A token is ``base64url(version ‖ email hash ‖ MAC)``: the store's keyed hash of the
address (so the URL holds no personal data and cannot be reversed without the store's
key) and a truncated HMAC-SHA256 under a second key of the store (so it cannot be guessed
or altered: a forged or edited token is refused). Both keys live in the database, not in
settings, so links in emails sent years ago keep working after ``TAILOR_SECRET`` rotates.

The endpoint (:mod:`tailor.web.unsubscribe`) records a suppression on ``POST`` only:
mail scanners prefetch every ``GET`` of a message's links, so a ``GET`` shows a
confirmation page with a button and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any
from urllib.parse import quote, urlsplit

from tailor.web.auth import is_loopback

#: the store_meta row holding the MAC key
KEY_NAME = "unsubscribe_key"
_VERSION = b"\x01"
_MAC_BYTES = 16
#: the one spelling of a token: unpadded URL-safe base64 of version, hash and MAC
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{-(-(1 + 32 + _MAC_BYTES) * 4 // 3)}}}")
ONE_CLICK = "List-Unsubscribe=One-Click"


class BadToken(ValueError):
    """The token was not made by this store (forged, edited, truncated)."""


def check_public_url(url: str) -> str:
    """``url`` without a trailing slash; https, or http on a loopback host (tests, local runs)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{url!r}: unsubscribe links must use https (RFC 8058) outside loopback")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: give the base URL, without query or fragment")
    return url.rstrip("/")


class Unsubscribe:
    """Makes and checks the tokens of one store."""

    def __init__(self, store: Any, public_url: str | None = None, mailto: str | None = None):
        self.store = store
        #: None: this instance only checks tokens (the endpoint), it makes no links
        self.public_url = check_public_url(public_url) if public_url else None
        self.mailto = mailto.removeprefix("mailto:") if mailto else None
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = self.store.secret_key(KEY_NAME)
        return self._key

    def token(self, email: str) -> str:
        digest = bytes.fromhex(self.store.hash_email(email))
        body = _VERSION + digest
        mac = hmac.new(self.key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        return _encode(body + mac)

    def verify(self, token: str) -> str:
        """The email hash ``token`` was made for; :class:`BadToken` when it was not made here."""
        # one spelling only: the decoder skips characters outside the alphabet, takes
        # padding and ignores the last character's unused bits, so '"(!)' inside a token,
        # a trailing '==' or 16 different last characters were all accepted (and the
        # confirmation page printed them)
        if not _TOKEN.fullmatch(token):
            raise BadToken("not a token")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise BadToken("not a token") from None
        if raw[:1] != _VERSION or _encode(raw) != token:
            raise BadToken("not a token")
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        expected = hmac.new(self.key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise BadToken("signature mismatch")
        return body[1:].hex()

    def url(self, email: str) -> str:
        if self.public_url is None:
            raise ValueError("no public_url: set TAILOR_PUBLIC_URL")
        return f"{self.public_url}/v1/unsubscribe/{self.token(email)}"

    def headers(self, email: str) -> dict[str, str]:
        """``List-Unsubscribe`` (https, then the optional mailto) and ``List-Unsubscribe-Post``."""
        targets = [f"<{self.url(email)}>"]
        if self.mailto:
            targets.append(f"<mailto:{self.mailto}?subject={quote('unsubscribe ' + self.token(email))}>")
        return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": ONE_CLICK}


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
