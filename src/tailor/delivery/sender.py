"""The sender: rendered-email records in, SMTP transactions out, each journaled.

It consumes any iterable of :class:`~tailor.delivery.message.RenderedEmail` — a batch
shard read row by row, a trigger scan's renders, one studio test — so every producer
gets the same guarantees: the frequency cap, the rate limit, retries of 4xx with
exponential backoff, a recorded permanent failure on 5xx, and at most one message per
``send_id`` across re-runs and crashes (:mod:`tailor.delivery.journal`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from tailor.delivery import journal
from tailor.delivery.frequency import FrequencyCap
from tailor.delivery.message import RenderedEmail, build_message, message_id, record_too_long, sender_domain
from tailor.delivery.smtp import Permanent, RateLimit, RelayUnusable, SmtpTransport, Transient, Unconfirmed
from tailor.delivery.unsubscribe import Unsubscribe
from tailor.profile import MAX_ID_LENGTH
from tailor.triggers.scan import new_owner, owner_is_dead

logger = logging.getLogger("tailor.delivery")


@dataclass
class Outcome:
    """What happened to one record: ``sent``, ``failed`` (5xx, recorded), ``deferred`` (4xx
    until the retries ran out: the next run tries again), ``capped``, ``unconfirmed``
    (a crash after the final dot: not resent), ``skipped`` (already final in the journal),
    ``suppressed`` (unsubscribed, bounced: checked right before sending) or ``busy``
    (another live run holds it)."""

    send_id: str
    status: str
    attempts: int = 0
    error: str | None = None
    message_id: str | None = None
    #: the frequency cap's decision, as the trace shows it
    frequency_cap: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class DeliveryReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def summary(self) -> str:
        return ", ".join(f"{n} {status}" for status, n in sorted(self.counts().items())) or "nothing to send"


@dataclass
class Sender:
    """Sends records through one relay connection, journaled in ``store``."""

    store: Any
    transport: SmtpTransport
    sender: str
    unsubscribe: Unsubscribe | None = None
    cap: FrequencyCap | None = None
    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    rate: RateLimit = field(default_factory=lambda: RateLimit(None))
    sleep: Callable[[float], None] = time.sleep
    owner: str = field(default_factory=new_owner)
    lease: timedelta = timedelta(minutes=10)
    #: opt into at-least-once for rows a crash left between the final dot and its answer
    resend_unconfirmed: bool = False
    #: owners of journal rows whose process is gone (looked up once per sender)
    _dead: set[str] | None = field(default=None, init=False, repr=False)

    def deliver(self, emails: Iterable[RenderedEmail], echo: Callable[[Outcome], None] | None = None) -> DeliveryReport:
        """Send every record (streamed: one at a time, nothing kept but the outcomes)."""
        report = DeliveryReport()
        for email in emails:
            outcome = self.send(email)
            report.outcomes.append(outcome)
            if echo:
                echo(outcome)
        return report

    def send(self, email: RenderedEmail) -> Outcome:
        """Send one record at most once; raises :class:`RelayUnusable` when the relay refuses tailor itself."""
        if self._dead is None:
            self._dead = {o for o in journal.owners(self.store) if o != self.owner and owner_is_dead(o)}
        too_long = record_too_long(email)
        if too_long:  # the journal cannot keep it: refused before anything is written
            return Outcome(email.send_id[:MAX_ID_LENGTH], "failed", error=too_long[1])
        address = parseaddr(email.to)[1]
        email_hash = self.store.hash_email(address) if "@" in address else None
        # someone may unsubscribe between the render and the send (a shard waits for hours)
        reason = self.store.is_suppressed(email.profile_id, email_hash=email_hash)
        if reason:
            return Outcome(email.send_id, "suppressed", error=f"suppressed ({reason})")
        claim = journal.claim(
            self.store,
            send_id=email.send_id,
            profile_id=email.profile_id,
            email_hash=email_hash,
            template=email.template,
            marketing=email.marketing,
            cap=self.cap,
            owner=self.owner,
            lease=self.lease,
            dead_owners=self._dead,
            resend_unconfirmed=self.resend_unconfirmed,
        )
        if claim.action != "send" or claim.row_id is None:
            status = {"done": "skipped", "capped": "capped", "unconfirmed": "unconfirmed"}.get(claim.action, "busy")
            return Outcome(email.send_id, status, frequency_cap=claim.cap)
        row_id = claim.row_id
        mid = message_id(email.send_id, sender_domain(self.sender))
        try:
            headers = dict(email.headers)
            if email.marketing and self.unsubscribe is not None and email_hash:
                headers.update(self.unsubscribe.headers(address))
            message = build_message(RenderedEmail(**{**_fields(email), "headers": headers}), self.sender)
        except (ValueError, TypeError) as exc:  # an address no relay could take
            journal.finished(self.store, row_id, self.owner, "failed", attempts=0, error=str(exc)[:300])
            return Outcome(email.send_id, "failed", error=str(exc)[:300], frequency_cap=claim.cap)
        attempts = 0
        while True:
            attempts += 1
            self.rate.wait()
            try:
                self.transport.send(
                    message, before_commit=lambda: journal.committing(self.store, row_id, self.owner, mid)
                )
            except Permanent as exc:
                journal.finished(self.store, row_id, self.owner, "failed", attempts=attempts, error=str(exc))
                return Outcome(email.send_id, "failed", attempts, str(exc), mid, claim.cap)
            except Unconfirmed as exc:
                # at-most-once: leave it in `committing`; never offered again unless asked to
                journal.finished(self.store, row_id, self.owner, "committing", attempts=attempts, error=str(exc))
                return Outcome(email.send_id, "unconfirmed", attempts, str(exc), mid, claim.cap)
            except Transient as exc:
                if attempts > self.retries:
                    journal.finished(self.store, row_id, self.owner, "intent", attempts=attempts, error=str(exc))
                    return Outcome(email.send_id, "deferred", attempts, str(exc), mid, claim.cap)
                self.sleep(min(self.backoff * 2 ** (attempts - 1), self.max_backoff))
                continue
            except RelayUnusable:
                journal.finished(self.store, row_id, self.owner, "intent", attempts=attempts - 1)
                raise
            journal.finished(self.store, row_id, self.owner, "sent", attempts=attempts)
            logger.info("sent", extra={"send_id": email.send_id, "attempts": attempts})
            return Outcome(email.send_id, "sent", attempts, None, mid, claim.cap)


def _fields(email: RenderedEmail) -> dict[str, Any]:
    return {name: getattr(email, name) for name in email.__dataclass_fields__}


def open_sender(
    settings: Any,
    store: Any,
    *,
    smtp_url: str | None = None,
    cap: FrequencyCap | None = None,
    require_unsubscribe: bool = True,
) -> Sender:
    """A :class:`Sender` from the settings (``smtp_url`` overrides ``TAILOR_SMTP_URL``, e.g. ``--deliver``).

    Raises ``ValueError`` with what is missing: a relay, a sender address, and — for
    marketing email — ``TAILOR_PUBLIC_URL``, where the one-click unsubscribe links point
    (Gmail and Yahoo refuse bulk mail without them; a test send to the seed list may go
    without: ``require_unsubscribe=False``).
    """
    from tailor.delivery.smtp import SmtpConfig

    url = smtp_url or settings.smtp_url
    if not url:
        raise ValueError("no SMTP relay: give --deliver smtp://… or set TAILOR_SMTP_URL")
    config = SmtpConfig.from_url(url)
    if not settings.smtp_from:
        raise ValueError("no sender: set TAILOR_SMTP_FROM (e.g. 'Shop <news@shop.example>')")
    if require_unsubscribe and not settings.public_url:
        raise ValueError(
            "no TAILOR_PUBLIC_URL: marketing email needs its one-click unsubscribe link (RFC 8058), "
            "which points at this tailor's public https address"
        )
    unsubscribe = Unsubscribe(store, settings.public_url, settings.unsubscribe_mailto) if settings.public_url else None
    return Sender(
        store,
        SmtpTransport(config),
        settings.smtp_from,
        unsubscribe=unsubscribe,
        cap=cap,
        rate=RateLimit(config.rate),
    )
