"""ESP event webhooks: SendGrid, Mailgun and Postmark events → Segment events and suppressions.

Each provider module has ``verify(parts, secret)`` (raises :class:`SignatureError`)
and ``parse(payload, skipped=None) -> list[EspEvent]`` (raises
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

A provider without its setting is accepted only when the server is bound to loopback
(the embedded/dev mode, like the rest of the API).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import mailgun, postmark, sendgrid
from .events import (
    SEGMENT_NAMES,
    EspEvent,
    MalformedPayload,
    RequestParts,
    SignatureError,
    default_suppression,
    message_id_for,
    to_segment,
)

PROVIDERS = {"sendgrid": sendgrid, "mailgun": mailgun, "postmark": postmark}


@dataclass(frozen=True)
class EspConfig:
    """The per-provider secrets; None means "not configured" (loopback only)."""

    sendgrid_public_key: str | None = None
    mailgun_signing_key: str | None = None
    postmark_user: str | None = None
    postmark_password: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EspConfig:
        environ = os.environ if environ is None else environ
        return cls(
            sendgrid_public_key=environ.get(sendgrid.ENV) or None,
            mailgun_signing_key=environ.get(mailgun.ENV) or None,
            postmark_user=environ.get(postmark.ENV_USER) or None,
            postmark_password=environ.get(postmark.ENV_PASSWORD) or None,
        )

    def secret(self, provider: str) -> Any:
        """What ``PROVIDERS[provider].verify`` takes, or None when the provider is not configured."""
        if provider == "sendgrid":
            return self.sendgrid_public_key
        if provider == "mailgun":
            return self.mailgun_signing_key
        if provider == "postmark":
            if self.postmark_user is None and self.postmark_password is None:
                return None
            return (self.postmark_user or "", self.postmark_password or "")
        raise KeyError(provider)


__all__ = [
    "PROVIDERS",
    "SEGMENT_NAMES",
    "EspConfig",
    "EspEvent",
    "MalformedPayload",
    "RequestParts",
    "SignatureError",
    "default_suppression",
    "mailgun",
    "message_id_for",
    "postmark",
    "sendgrid",
    "to_segment",
]
