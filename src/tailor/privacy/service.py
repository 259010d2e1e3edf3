"""Data-subject requests over a :class:`~tailor.store.Store`: consents, export, erasure."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tailor.profile import CONSENT_PURPOSES
from tailor.store import Store
from tailor.store import privacy as store_privacy
from tailor.store.documents import find_profile
from tailor.store.engine import write_transaction
from tailor.store.times import utcnow

from .retrain import flag_retrain

PURPOSES = tuple(CONSENT_PURPOSES)
logger = logging.getLogger(__name__)


class UnknownPurpose(ValueError):
    """A consent purpose tailor does not know."""

    def __init__(self, purpose: str):
        super().__init__(f"unknown consent purpose {purpose!r} (known: {', '.join(PURPOSES)})")
        self.purpose = purpose


def export_profile(store: Store, ref: str) -> dict[str, Any] | None:
    """Everything stored about the person ``ref`` (profile id, user id, anonymous id or email) names, or None."""
    return store.export_profile(ref)


def erase_profile(
    store: Store, ref: str, *, artifacts: str | Path | None = None, on_erase: Iterable[Callable[[str], None]] = ()
) -> dict[str, Any] | None:
    """Erase the person ``ref`` (as for :func:`export_profile`) names in one transaction; a receipt
    without personal data, or None.

    After the commit: recommendation artifacts under ``artifacts`` that may include the
    person are flagged for retraining, and each ``on_erase`` callback gets the erased
    profile id (to drop in-memory caches: rendered sends, recommendation results).
    """
    profile_id = store.resolve_person(ref)
    receipt = store.erase_profile_receipt(ref)
    if receipt is None:
        return None
    receipt["retrain_flagged"] = False
    if artifacts is not None and receipt.get("had_events"):
        receipt["retrain_flagged"] = flag_retrain(
            artifacts, receipt["erased_at"], receipt.get("first_event_received_at")
        )
    for callback in on_erase:
        try:
            callback(profile_id or ref)
        except Exception:  # a cache that cannot be cleared expires on its own
            logger.warning("an erasure callback failed", exc_info=True)
    return receipt


def set_consents(store: Store, ref: str, consents: Mapping[str, Any], *, source: str = "api") -> dict[str, bool] | None:
    """Record an explicit consent choice for the person ``ref`` names; their consents after it, or None."""
    clean: dict[str, bool] = {}
    for purpose, granted in consents.items():
        if purpose not in PURPOSES:
            raise UnknownPurpose(str(purpose))
        if not isinstance(granted, bool):
            raise TypeError(f"consent for {purpose!r} must be true or false, got {granted!r}")
        clean[purpose] = granted
    source = (source or "api")[:64]
    hash_email = store.hash_email
    hash_email("")  # read the key before the write transaction opens
    with write_transaction(store.engine) as conn:
        row = find_profile(conn, id=ref, hash_email=hash_email)
        if row is None:
            return None
        return store_privacy.set_consents(conn, row.id, clean, source=source, now=utcnow())


def counters(store: Store, name: str | None = None) -> dict[str, dict[str, int]]:
    """Per-day privacy counters, e.g. events dropped without tracking consent."""
    with store.engine.connect() as conn:
        return store_privacy.counters(conn, name)
