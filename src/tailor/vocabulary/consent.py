"""Consent: the purposes a person can refuse, and the one rule for reading them.

A purpose is granted unless the person explicitly withdrew it (``false``): an absent or
null consent is granted, as SPEC.md's profile document says. Rendering, recommendations,
ingestion and the store's audience queries all read consent through :func:`granted`, so
a withdrawal means the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PERSONALIZATION = "personalization"
TRACKING = "tracking"
RECOMMENDATIONS = "recommendations"
EMAIL_MARKETING = "email_marketing"
PURPOSES = (PERSONALIZATION, TRACKING, RECOMMENDATIONS, EMAIL_MARKETING)


def granted(consents: Mapping[str, Any] | None, purpose: str) -> bool:
    """Whether ``consents`` (purpose -> true/false/null) allow ``purpose``: only ``false`` refuses."""
    return (consents or {}).get(purpose) is not False


def consent(doc: Mapping[str, Any], purpose: str) -> bool:
    """Consent for ``purpose`` in a profile document (its ``consents`` object)."""
    return granted(doc.get("consents"), purpose)
