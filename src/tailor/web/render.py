"""Send-time rendering: ``POST /v1/render`` and ``GET /v1/content/<template>/<slot>``.

The views read the :class:`~tailor.core.Tailor`, the metrics and the send cache from
``current_app.extensions`` (``create_app`` puts them there), so they are plain
module-level functions. A refused render raises its :class:`~tailor.email.TailorError`
and the app's one handler answers it as problem+json (``exc.status``/``exc.kind``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from tailor.core import Tailor
from tailor.email import Email, InvalidInput, TailorError
from tailor.profile import MAX_ID_LENGTH
from tailor.web.body import json_body, json_response
from tailor.web.metrics import Metrics
from tailor.web.problem import problem
from tailor.web.sends import RedisSendCache, SendCache

#: largest request body accepted by the send-time endpoints (Braze sends at most 1 MB)
MAX_BODY_BYTES = 1024 * 1024
_RENDER_FIELDS = {"template", "recipient", "profile", "context", "at", "send_id", "explain"}
#: the catalog fields an ESP needs to render a product card itself
_PRODUCT_FIELDS = ("id", "title", "brand", "category", "price", "currency", "url", "image_url")

bp = Blueprint("render", __name__)


def _tailor() -> Tailor:
    return current_app.extensions["tailor"]


def _metrics() -> Metrics:
    return current_app.extensions["tailor.metrics"]


def _sends() -> SendCache | RedisSendCache:
    return current_app.extensions["tailor.sends"]


@bp.post("/v1/render")
def render() -> Response:
    args = _render_args(json_body(MAX_BODY_BYTES))
    g.template = args["template"]
    key = ("render", args.get("send_id"), args["template"], _recipient_key(args), args.get("explain") is True)
    repeat = _repeat(key, args.get("send_id"))
    if repeat:
        return repeat
    tailor = _tailor()
    started = time.perf_counter()
    try:
        email = tailor.render(
            args["template"],
            profile=args.get("profile"),
            recipient=args.get("recipient"),
            at=args.get("at"),
            context=args.get("context"),
            send_id=args.get("send_id"),
            count_send=True,
            explain=args.get("explain") is True,
        )
    except TailorError as exc:  # counted here, answered by the app's TailorError handler
        _metrics().render_seconds.labels(_template_label(args["template"]), exc.kind).observe(
            time.perf_counter() - started
        )
        raise
    _record(email, time.perf_counter() - started)
    payload = {
        "subject": email.subject,
        "preheader": email.preheader,
        "html": email.html,
        "text": email.text,
        "template_version": email.template_version,
        "decisions": email.decisions,
        "fallbacks": email.fallbacks,
        "experiments": email.experiments,
        "blocks": email.blocks,
        "headers": email.headers,
    }
    if args.get("send_id"):
        _sends().put(key, payload)
    g.outcome = "ok" if not email.fallbacks else "ok-with-fallbacks"
    return json_response(payload)


@bp.get("/v1/content/<template>/<slot>")
def content(template: str, slot: str) -> Response:
    g.template = template
    ref = request.args.get("recipient")
    if not ref:
        return problem(
            400,
            "invalid-input",
            detail="query parameter `recipient` (profile id, user id or email) is required",
            pointer="?recipient",
        )
    recipient = {"email": ref} if "@" in ref else {"id": ref}
    extra = {k: v for k, v in request.args.items() if k not in ("recipient", "send_id", "at")}
    send_id = request.args.get("send_id")
    _check_send_id(send_id, "?send_id")
    key = ("content", send_id, template, slot, ref)
    repeat = _repeat(key, send_id)
    if repeat:
        return repeat
    tailor = _tailor()
    started = time.perf_counter()
    compiled = tailor.compile(template)
    if slot not in compiled.slots:
        return problem(
            404,
            "unknown-slot",
            detail=f"template {template!r} has no slot {slot!r} (slots: {', '.join(compiled.slots) or 'none'})",
        )
    email = tailor.render(template, recipient=recipient, at=request.args.get("at"), context=extra, send_id=send_id)
    _record(email, time.perf_counter() - started)
    payload = slot_payload(tailor, email, template, slot)
    if send_id:
        _sends().put(key, payload)
    g.outcome = "ok"
    return json_response(payload)


def _template_label(name: str) -> str:
    """A metrics label: a served template's name, never whatever a caller typed (unbounded series)."""
    return name if name in _tailor().template_names() else "unknown"


def _record(email: Email, seconds: float) -> None:
    metrics = _metrics()
    metrics.render_seconds.labels(email.template, "ok").observe(seconds)
    for fallback in email.fallbacks:
        metrics.fallbacks.labels(fallback.get("reason", "unknown")).inc()
    for slot, rule in email.winning_rules().items():
        metrics.rule_hits.labels(slot, rule).inc()
    control = any(entry.get("control_group") for entry in email.decisions)
    metrics.sends.labels(email.template, "true" if control else "false").inc()
    for slot, block in email.blocks.items():
        metrics.blocks.labels(slot, block).inc()
    recs = email.recommendations or {}
    if recs:
        metrics.recs.labels(str(recs.get("provider")), "ok" if recs.get("provider") else "hidden").inc()


def _repeat(key: tuple, send_id: str | None) -> Response | None:
    """The answer already given for this send (Braze renders a send several times)."""
    cached = _sends().get(key) if send_id else None
    if cached is None:
        return None
    g.outcome = "repeat"
    return json_response(cached)


def slot_payload(tailor: Tailor, email: Email, template: str, slot: str) -> dict[str, Any]:
    """The connected-content answer for one slot: its block, variables and products."""
    block = email.blocks.get(slot, "")
    trace = [d for d in email.decisions if d.get("slot") == slot]
    return {
        "template": template,
        "slot": slot,
        "block": block,
        "template_version": email.template_version,
        "variables": (trace[0].get("set") if trace and isinstance(trace[0].get("set"), dict) else {}) if trace else {},
        "products": _product_objects(tailor, (email.recommendations or {}).get("products", [])),
        "decisions": trace,
        "fallbacks": email.fallbacks,
    }


def _product_objects(tailor: Tailor, ids: list[Any]) -> list[dict[str, Any]]:
    """Recommended product ids as objects with the catalog fields (connected content renders them)."""
    catalog = tailor.catalog_index()
    products = []
    for pid in ids:
        row = catalog.get(str(pid)) or {"id": pid}
        products.append({k: row[k] for k in _PRODUCT_FIELDS if row.get(k) is not None})
    return products


def _recipient_key(args: Mapping[str, Any]) -> str:
    """Whom a render is for, as the send cache keys it: the whole reference or profile document.

    A digest, so a 1 MB profile document is not kept as a key. Only ``id``, ``email`` and
    ``user_id`` once counted: two visitors known by ``anonymous_id``, or two profile
    documents without an id, rendered under one campaign's send id (ESPs reuse one for a
    whole campaign) got the first one's email — name, products, unsubscribe link.
    """
    who = {"recipient": args.get("recipient"), "profile": args.get("profile")}
    canonical = json.dumps(who, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()


def _check_send_id(send_id: str | None, pointer: str) -> None:
    """An ESP's send id is kept with the send records (their columns hold 255 characters)."""
    if send_id is not None and len(send_id) > MAX_ID_LENGTH:
        raise InvalidInput(f"longer than {MAX_ID_LENGTH} characters", pointer)


def _render_args(body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - _RENDER_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field (known: {', '.join(sorted(_RENDER_FIELDS))})", f"/{unknown[0]}")
    template = body.get("template")
    if not isinstance(template, str) or not template:
        raise InvalidInput("required, a template name string", "/template")
    for key in ("recipient", "profile", "context"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise InvalidInput(f"must be an object, got {type(body[key]).__name__}", f"/{key}")
    for key in ("at", "send_id"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise InvalidInput(f"must be a string, got {type(body[key]).__name__}", f"/{key}")
    _check_send_id(body.get("send_id"), "/send_id")
    if body.get("explain") is not None and not isinstance(body["explain"], bool):
        raise InvalidInput(f"must be true or false, got {type(body['explain']).__name__}", "/explain")
    recipient = body.get("recipient")
    if recipient is not None:
        for key in ("id", "email", "user_id"):
            if recipient.get(key) is not None and not isinstance(recipient[key], str):
                raise InvalidInput(f"must be a string, got {type(recipient[key]).__name__}", f"/recipient/{key}")
        if recipient.get("traits") is not None and not isinstance(recipient["traits"], dict):
            raise InvalidInput("must be an object", "/recipient/traits")
    if recipient is None and body.get("profile") is None:
        raise InvalidInput('give `recipient` ({"id"|"email"|"user_id": ...}) or a `profile` document', "/recipient")
    return body
