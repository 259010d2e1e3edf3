"""Producers of rendered-email records: a render, a campaign's shards, a trigger episode."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from tailor.delivery.message import RenderedEmail
from tailor.email import Email
from tailor.profile import fitted_id


def from_render(email: Email, send_id: str, *, to: str | None = None) -> RenderedEmail:
    """The record of a render (``to`` overrides the recipient's own address: test sends)."""
    address = to or email.recipient_email
    if not address:
        raise ValueError("the recipient has no email address")
    return RenderedEmail(
        send_id=send_id,
        to=address,
        subject=email.subject,
        html=email.html,
        text=email.text,
        preheader=email.preheader,
        profile_id=email.recipient_id,
        template=email.template,
        marketing=not email.transactional,
    )


def from_shard_rows(rows: Iterable[Mapping[str, Any]], *, template: str, marketing: bool) -> Iterator[RenderedEmail]:
    """Records from a campaign's shard rows (:func:`tailor.batch.iter_rendered`): ``recipient`` is the address.

    Rows without an address (a profile document with no email) are not sendable and are skipped.
    """
    for row in rows:
        if row.get("recipient"):
            yield RenderedEmail.from_mapping({**row, "template": template, "marketing": marketing})


#: trigger-delivery outcomes after which the outbox row is done (never offered again):
#: sent, or a final answer of the journal; ``deferred`` and ``busy`` leave it pending
_DONE = {"sent", "skipped", "capped", "failed", "suppressed", "unconfirmed"}


class TriggerMail:
    """``tailor triggers scan --deliver``: each due payload rendered and sent by SMTP.

    Plugged into the trigger outbox (:func:`tailor.triggers.scan.notify`) in place of
    the POST, so claiming, leases and re-delivery after a crash stay the outbox's; the
    journal adds at-most-once per episode (send id ``trigger:<name>:<profile>:<key>``).
    """

    def __init__(self, tailor: Any, sender: Any, template_for: Callable[[str], str]):
        self.tailor = tailor
        self.sender = sender
        self.template_for = template_for
        #: (profile_id, trigger, key) -> what happened, for the scan's output lines
        self.outcomes: dict[tuple[str, str, str], dict[str, Any]] = {}

    def __call__(
        self, payload: dict[str, Any], key: str, on_attempt: Callable[[str | None], None] | None = None
    ) -> tuple[bool, int, str | None]:
        from tailor.email import RenderAborted, TailorError

        trigger, profile_id = payload["trigger"], payload["profile_id"]
        send_id = fitted_id(f"trigger:{trigger}:{profile_id}:{key}")  # a 255-character user id fits too
        where = (profile_id, trigger, key)
        try:
            email = self.tailor.render(
                self.template_for(trigger), recipient={"id": profile_id}, at=payload.get("at"), send_id=send_id
            )
            record = from_render(email, send_id)
        except RenderAborted as exc:  # an abort rule, no consent, suppressed: this episode sends nothing
            self.outcomes[where] = {"status": "aborted", "error": exc.reason}
            return True, 0, None
        except (TailorError, ValueError) as exc:  # a broken template, no address: retried by the next scan
            self.outcomes[where] = {"status": "not-rendered", "error": str(exc)}
            return False, 0, str(exc)[:300]
        outcome = self.sender.send(record)
        self.outcomes[where] = outcome.to_dict()
        if on_attempt is not None and outcome.error:
            on_attempt(outcome.error)
        return outcome.status in _DONE, outcome.attempts, None if outcome.status in _DONE else outcome.error
