""" "Send a test": one template rendered for one persona, delivered to the seed list.

Used by ``tailor send-test`` and the studio's button. A test is not a send to the
persona: it goes to ``TAILOR_TEST_RECIPIENTS`` only, with "[TEST]" before the subject,
is never frequency-capped nor counted, and records no experiment exposure. Each click is
its own send (a fresh send id): sending a test twice is what the marketer asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tailor.delivery.records import from_render
from tailor.delivery.sender import DeliveryReport, open_sender

SUBJECT_PREFIX = "[TEST] "


def send_test(
    tailor: Any,
    template: str,
    persona: Mapping[str, Any],
    *,
    recipients: Sequence[str] | None = None,
    smtp_url: str | None = None,
    at: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> DeliveryReport:
    """Render ``template`` for ``persona`` and deliver it to each seed address.

    Raises ``ValueError`` (no relay, no sender, no seed list) or a render's
    :class:`~tailor.email.TailorError` (an abort rule, a broken template).
    """
    settings = tailor.settings
    seeds = list(recipients or settings.test_recipients)
    if not seeds:
        raise ValueError("no seed list: set TAILOR_TEST_RECIPIENTS (comma-separated addresses)")
    if tailor.store is None:
        raise ValueError(f"a test send is journaled in the store; {settings.database_url} does not exist")
    email = tailor.render(template, profile=dict(persona), at=at, context=context, record_exposure=False)
    test_id = f"test:{template}:{uuid.uuid4().hex}"
    sender = open_sender(settings, tailor.store, smtp_url=smtp_url, require_unsubscribe=False)
    try:
        records = [
            replace(
                from_render(email, f"{test_id}:{n}", to=seed),
                subject=SUBJECT_PREFIX + email.subject,
                profile_id=None,  # not the persona's send: nothing is counted for anybody
                marketing=False,
            )
            for n, seed in enumerate(seeds)
        ]
        return sender.deliver(records)
    finally:
        sender.transport.close()
