"""Email addresses: the one form an address is compared, stored and hashed in.

Profiles, CSV imports, ESP webhooks and consent lookups all meet addresses typed by
people (``" Ann@Example.org "``); trimmed and lowercased they match each other.
"""

from __future__ import annotations

from typing import Any


def normalize_email(value: str) -> str:
    """Trimmed and lowercased — the one form an address is compared and stored in."""
    return value.strip().lower()


def email_address(value: Any) -> str | None:
    """``value`` normalized when it is an email address (``local@domain``, no spaces), else None."""
    if not isinstance(value, str):
        return None
    email = normalize_email(value)
    local, at, domain = email.partition("@")
    if not (at and local and domain and " " not in email and "@" not in domain):
        return None
    return email
