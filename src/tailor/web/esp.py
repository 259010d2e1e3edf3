"""ESP event webhooks: ``POST /v1/esp/sendgrid``, ``/v1/esp/mailgun``, ``/v1/esp/postmark``.

Each request is authenticated with the provider's own scheme (see :mod:`tailor.esp`),
parsed, and all its events and suppressions are stored in one transaction, committed
before the 200. Idempotent: a provider's retry stores nothing twice.

Answers:

* 200 ``{"accepted", "duplicates", "suppressions", "skipped": {reason: n}}`` — stored
  (events the store cannot use, e.g. without a recipient address or of a kind tailor
  does not track, are skipped and counted, never failing the whole batch).
* 401 problem+json — bad/missing signature or credentials, or a signed timestamp more
  than 5 minutes from the server clock (SendGrid, Mailgun).
* 403 problem+json — a Mailgun token already used with other content (a replay).
* 404 problem+json — an unknown provider, or one whose settings are missing or
  incomplete: it is disabled on every interface (never open).
* 400 problem+json — the body is not the provider's format (SendGrid, Postmark).
  **Mailgun gets 406 instead**: Mailgun retries anything but 200/406 for ~8 hours, and
  a malformed payload will never become acceptable.
* 413 — body over 1 MB. Store failures propagate (500/503) so the provider retries.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request

from tailor.config import Settings
from tailor.esp import PROVIDERS, EspConfig, MalformedPayload, RequestParts, SignatureError, to_segment
from tailor.esp import sendgrid as sendgrid_mod
from tailor.esp import verify as verify_webhook
from tailor.store import Store, ValidationError
from tailor.store.email_events import WebhookReplayed
from tailor.web.auth import on_register
from tailor.web.body import BadBody, json_response, loads
from tailor.web.logs import log
from tailor.web.problem import problem

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


def create_esp_blueprint(store: Store, settings: Settings, *, config: EspConfig | None = None) -> Blueprint:
    """The ESP webhook routes over ``store``; secrets from ``config`` (default: ``settings``).

    A provider without complete settings is disabled whatever the interface (404): the route
    authenticates each provider by its own scheme, so the app's policy lets ESP routes through.
    """
    config = config or EspConfig.from_settings(settings)
    bp = Blueprint("esp", __name__)
    bp.record_once(on_register(settings, provider_configured=lambda name: name in PROVIDERS))
    sendgrid_key = sendgrid_mod.load_public_key(config.sendgrid_public_key) if config.sendgrid_public_key else None
    webhooks = _Webhooks(store, config, sendgrid_key)
    bp.record_once(lambda state: state.app.extensions.update({_KEY: webhooks}))
    for name in PROVIDERS:
        if config.missing(name):
            log(
                logger,
                logging.WARNING,
                "ESP webhook disabled: not configured",
                provider=name,
                missing=list(config.missing(name)),
            )
    bp.add_url_rule("/v1/esp/<provider>", view_func=esp_webhook, methods=["POST"])
    return bp


#: the app.extensions key of what the view needs
_KEY = "tailor.esp"


@dataclass(frozen=True)
class _Webhooks:
    store: Store
    config: EspConfig
    sendgrid_key: Any


def esp_webhook(provider: str) -> Response:
    """``POST /v1/esp/<provider>``: verify, parse and store one webhook delivery (see the module docstring)."""
    hooks: _Webhooks = current_app.extensions[_KEY]
    module = PROVIDERS.get(provider)
    if module is None:
        return problem(404, "unknown-provider", detail=f"unknown ESP {provider!r} (known: {', '.join(PROVIDERS)})")
    if hooks.config.missing(provider):  # before reading the body: a disabled route does no work
        return problem(
            404,
            "esp-provider-not-configured",
            detail=f"{provider} webhooks are disabled: set {' and '.join(hooks.config.missing(provider))}",
        )
    rejected = 406 if provider == "mailgun" else 400
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        return problem(
            413, "payload-too-large", detail=f"an ESP webhook body may be at most {MAX_BODY_BYTES // 1024} KB"
        )
    verified = _verified_payload(provider, body, hooks, rejected)
    if isinstance(verified, Response):
        return verified
    payload, token = verified
    skipped: Counter = Counter()
    try:
        events = module.parse(payload, skipped)
    except MalformedPayload as exc:
        return _malformed(rejected, provider, exc.message, exc.pointer)
    messages = [to_segment(e) for e in events]
    suppressions = {
        m["messageId"]: (e.suppression, f"esp:{provider}")
        for m, e in zip(messages, events, strict=True)
        if e.suppression
    }
    try:
        result = hooks.store.ingest_email_events(messages, suppressions, token=token)
    except ValidationError as exc:  # parse() produced something the store refuses: a bug or odd data
        return _malformed(rejected, provider, exc.message)
    except WebhookReplayed as exc:
        log(logger, logging.WARNING, "ESP webhook refused: replayed token", provider=provider)
        return problem(403, "webhook-replayed", detail=str(exc))
    # counts only: addresses never reach the log
    log(
        logger,
        logging.INFO,
        "ESP events",
        provider=provider,
        received=len(events),
        accepted=result.accepted,
        duplicates=result.duplicates,
        suppressions=result.suppressions,
        new_profiles=result.new_profiles,
        skipped=dict(skipped) or None,
    )
    return json_response(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "suppressions": result.suppressions,
            "new_profiles": result.new_profiles,
            "skipped": dict(skipped),
        }
    )


def _verified_payload(provider: str, body: bytes, hooks: _Webhooks, rejected: int) -> tuple[Any, Any] | Response:
    """``(payload, token)`` of a delivery whose signature holds, or the refusal (401, or 400/406 for a bad body)."""
    payload: Any = None
    parsed = False
    if provider != "sendgrid":  # SendGrid signs the raw bytes: verify before parsing
        try:
            payload, parsed = loads(body), True
        except BadBody:
            parsed = False
        if provider == "mailgun" and not parsed:  # its signature is inside the JSON
            return _malformed(rejected, provider, "the body is not valid JSON")
    auth = request.authorization
    basic = auth if auth and auth.type == "basic" else None
    parts = RequestParts(
        body=body,
        headers=dict(request.headers),
        username=basic.username if basic else None,
        password=basic.password if basic else None,
    )
    try:
        token = verify_webhook(
            provider, parts, hooks.config, payload, secret=hooks.sendgrid_key if provider == "sendgrid" else None
        )
    except SignatureError as exc:
        log(logger, logging.WARNING, "ESP webhook refused", provider=provider, reason=str(exc))
        return problem(401, "unauthorized", detail=str(exc))
    if not parsed:
        try:
            payload = loads(body)
        except BadBody as exc:
            return _malformed(rejected, provider, exc.detail.replace("request body is", "the body is"), exc.pointer)
    return payload, token


def _malformed(status: int, provider: str, detail: str, pointer: str | None = None) -> Response:
    return problem(
        status,
        "invalid-esp-payload",
        title="Not Acceptable" if status == 406 else None,
        detail=f"not a {provider} webhook payload: {detail}",
        pointer=pointer,
    )
