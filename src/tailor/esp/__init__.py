"""ESP event webhooks: SendGrid, Mailgun and Postmark events → Segment events and suppressions.

Each provider module has ``verify(parts, secret, payload=None, *, now=None)`` (raises
:class:`SignatureError`; returns the request's single-use :class:`WebhookToken`, if the
provider sends one, for the store to claim) and
``parse(payload, skipped=None) -> list[EspEvent]`` (raises
:class:`MalformedPayload`). :func:`to_segment` turns an event into a Segment ``track``
message with a deterministic ``messageId``, which
:meth:`tailor.store.Store.ingest_email_events` stores together with the event's
suppression (unsubscribe, hard bounce, spam report) in one transaction.

Configuration (environment):

``TAILOR_SENDGRID_PUBLIC_KEY``
    the Signed Event Webhook's ECDSA public key (base64 DER as SendGrid shows it, or PEM)
``TAILOR_MAILGUN_SIGNING_KEY``
    Mailgun's HTTP webhook signing key
``TAILOR_POSTMARK_USER`` / ``TAILOR_POSTMARK_PASSWORD``
    the basic-auth credentials put in the Postmark webhook URL

A provider whose settings are missing or incomplete (e.g. a Postmark user without a
password) is **disabled** — its route answers 404 "not configured" — on every interface:
an unverified ESP webhook could suppress or unsubscribe anyone, so there is no open
development mode for it. :func:`verify` is the one entry point: configuration check,
then the provider's own scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tailor.config import Settings

from . import mailgun, postmark, sendgrid
from .events import (
    SEGMENT_NAMES,
    EspEvent,
    MalformedPayload,
    RequestParts,
    SignatureError,
    WebhookToken,
    default_suppression,
    message_id_for,
    to_segment,
)

PROVIDERS = {"sendgrid": sendgrid, "mailgun": mailgun, "postmark": postmark}


class ProviderNotConfigured(Exception):
    """The provider's settings are missing or incomplete: its webhook is disabled."""

    def __init__(self, provider: str, missing: tuple[str, ...]):
        self.provider = provider
        self.missing = missing
        super().__init__(f"{provider} webhooks are disabled: set {' and '.join(missing)}")


@dataclass(frozen=True)
class EspConfig:
    """The per-provider secrets; None means "not set" (a provider needs all of its own)."""

    sendgrid_public_key: str | None = None
    mailgun_signing_key: str | None = None
    postmark_user: str | None = None
    postmark_password: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EspConfig:
        return cls(
            sendgrid_public_key=settings.sendgrid_public_key or None,
            mailgun_signing_key=settings.mailgun_signing_key or None,
            postmark_user=settings.postmark_user or None,
            postmark_password=settings.postmark_password or None,
        )

    def missing(self, provider: str) -> tuple[str, ...]:
        """The environment variables ``provider`` still needs (empty: it is configured)."""
        if provider == "sendgrid":
            return () if self.sendgrid_public_key else (sendgrid.ENV,)
        if provider == "mailgun":
            return () if self.mailgun_signing_key else (mailgun.ENV,)
        if provider == "postmark":
            return tuple(
                name
                for name, value in (
                    (postmark.ENV_USER, self.postmark_user),
                    (postmark.ENV_PASSWORD, self.postmark_password),
                )
                if not value
            )
        raise KeyError(provider)

    def secret(self, provider: str) -> Any:
        """What ``PROVIDERS[provider].verify`` takes, or None unless the provider is fully configured."""
        if self.missing(provider):
            return None
        if provider == "sendgrid":
            return self.sendgrid_public_key
        if provider == "mailgun":
            return self.mailgun_signing_key
        return (self.postmark_user, self.postmark_password)


def verify(
    provider: str,
    parts: RequestParts,
    config: EspConfig,
    payload: Any = None,
    *,
    secret: Any = None,
    now: float | None = None,
) -> WebhookToken | None:
    """Authenticate one webhook request of ``provider`` with its own scheme.

    Raises :class:`ProviderNotConfigured` (the provider is disabled) or
    :class:`SignatureError`; returns the single-use token the store must claim, if any.
    ``secret`` overrides ``config.secret(provider)`` (e.g. an already loaded SendGrid key).
    """
    missing = config.missing(provider)
    if missing:
        raise ProviderNotConfigured(provider, missing)
    secret = config.secret(provider) if secret is None else secret
    token: WebhookToken | None = PROVIDERS[provider].verify(parts, secret, payload, now=now)
    return token


__all__ = [
    "PROVIDERS",
    "SEGMENT_NAMES",
    "EspConfig",
    "EspEvent",
    "MalformedPayload",
    "ProviderNotConfigured",
    "RequestParts",
    "SignatureError",
    "WebhookToken",
    "default_suppression",
    "mailgun",
    "message_id_for",
    "postmark",
    "sendgrid",
    "to_segment",
    "verify",
]
