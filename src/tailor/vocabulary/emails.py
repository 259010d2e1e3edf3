"""Email addresses: the one form an address is compared, stored and hashed in.

Profiles, CSV imports, ESP webhooks and consent lookups all meet addresses typed by
people (``" Ann@Example.org "``); trimmed and lowercased they match each other.
"""

from __future__ import annotations

from typing import Any

#: the longest address SMTP can carry (RFC 5321's 256-octet path, less its angle brackets); a longer
#: one cannot be sent to, and PostgreSQL refused it in the profiles.email column (320) with a 500
MAX_EMAIL_LENGTH = 254


def normalize_email(value: str) -> str:
    """Trimmed and lowercased — the one form an address is compared and stored in."""
    return value.strip().lower()


def email_address(value: Any) -> str | None:
    """``value`` normalized when it is an email address (``local@domain``, no spaces, at most
    :data:`MAX_EMAIL_LENGTH` characters), else None."""
    if not isinstance(value, str):
        return None
    email = normalize_email(value)
    local, at, domain = email.partition("@")
    if not (at and local and domain and " " not in email and "@" not in domain) or len(email) > MAX_EMAIL_LENGTH:
        return None
    return email
