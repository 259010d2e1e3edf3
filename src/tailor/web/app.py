"""The Flask app factory: send-time webhooks, health, metrics and the OpenAPI document.

Who may call what is decided in one place, :mod:`tailor.web.auth` (installed first,
in front of every route); request bodies are read and answers written by
:mod:`tailor.web.body`, so every route refuses the same bad input the same way.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException

from tailor.config import ConfigError, Settings
from tailor.core import Tailor
from tailor.email import Email, InvalidInput, RenderAborted, TailorError, TemplateBroken
from tailor.problems import ProblemError
from tailor.web.auth import install, is_loopback_interface
from tailor.web.body import BadBody, json_body, json_response
from tailor.web.logs import log, safe_label
from tailor.web.metrics import Metrics
from tailor.web.problem import problem
from tailor.web.sends import SendCache

#: largest request body accepted by the send-time endpoints (Braze sends at most 1 MB)
MAX_BODY_BYTES = 1024 * 1024
_RENDER_FIELDS = {"template", "recipient", "profile", "context", "at", "send_id"}


def create_app(  # noqa: C901 - a Flask factory: mccabe sums the route closures defined in it
    settings: Settings | None = None, *, tailor: Tailor | None = None, bind_host: str | None = None
) -> Flask:
    """Build the service for ``settings`` (default: ``tailor.toml`` + environment).

    ``bind_host``, when known, is the interface the server will listen on; it plays no
    part in who is trusted (that is the caller's address, per request), it only refuses
    to build a server that would listen beyond loopback with no credentials configured.
    """
    settings = settings or Settings.load()
    if bind_host is not None:
        check_bind(bind_host, settings)
    tailor = tailor or Tailor(
        settings.templates, settings.rules, settings.database_url, settings=settings, create_store=True
    )
    app = Flask("tailor")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["tailor"] = tailor
    metrics = Metrics()
    app.extensions["tailor.metrics"] = metrics
    sends = SendCache()
    if not settings.has_credentials:
        log(
            logging.WARNING,
            "no TAILOR_SECRET, TAILOR_API_TOKENS or TAILOR_WRITE_KEYS: only loopback callers are served",
        )

    @app.before_request
    def _start() -> None:
        # the caller's id is echoed and logged only when it is a plain token (log injection, PII)
        g.request_id = safe_label(request.headers.get("X-Request-Id")) or uuid.uuid4().hex[:16]
        g.started = time.perf_counter()

    # after the request id (a refused request is logged with its id), before every route
    install(app, settings)

    reported: dict[str, list[str]] = {}

    def _log_broken_edits() -> None:
        """Log once when an edit breaks a template or the rules (the last good version keeps serving)."""
        current = {name: [str(p) for p in problems] for name, problems in tailor.compiler.errors.items()}
        if tailor.rules_errors:
            current["rules"] = [str(p) for p in tailor.rules_errors]
        if current == reported:
            return
        for name, problems in current.items():
            if reported.get(name) != problems:
                log(logging.ERROR, "broken edit: serving the last good version", what=name, problems=problems)
        for name in set(reported) - set(current):
            log(logging.INFO, "broken edit fixed: serving the new version", what=name)
        reported.clear()
        reported.update(current)

    @app.after_request
    def _finish(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        latency_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if tailor.compiler.errors or tailor.rules_errors or reported:
            _log_broken_edits()
        if endpoint not in ("/metrics", "/healthz"):
            # the route pattern, never the path: paths and queries can carry emails
            log(
                logging.INFO,
                "request",
                request_id=g.get("request_id"),
                method=request.method,
                endpoint=endpoint,
                status=response.status_code,
                latency_ms=round(latency_ms, 2),
                template=None if g.get("template") is None else safe_label(g.template, "<invalid>"),
                outcome=g.get("outcome"),
            )
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        kinds = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large", 400: "bad-request"}
        detail = exc.description or ""
        if exc.code == 413:
            detail = f"request body is larger than {MAX_BODY_BYTES:,} bytes"
        answer = problem(exc.code or 500, kinds.get(exc.code or 500, "http-error"), detail=detail)
        allowed = getattr(exc, "valid_methods", None)
        if exc.code == 405 and allowed:
            answer.headers["Allow"] = ", ".join(allowed)
        return answer

    @app.errorhandler(BadBody)
    def _bad_body(exc: BadBody) -> Response:
        return exc.response()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log(logging.ERROR, "unhandled error", request_id=g.get("request_id"), error=type(exc).__name__)
        if _is_store_error(exc):
            return problem(503, "store-unavailable", detail="the profile store is not reachable")
        return problem(
            500,
            "internal",
            detail=f"unexpected {type(exc).__name__}; see the server log for request {g.get('request_id')}",
        )

    def _tailor_error(exc: TailorError) -> Response:
        g.outcome = exc.kind
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidInput):
            extra["pointer"] = exc.pointer
        if isinstance(exc, TemplateBroken):
            extra["problems"] = [str(p) for p in exc.problems]
        if isinstance(exc, RenderAborted):
            extra["reason"] = exc.reason
            extra["decisions"] = exc.decisions
        return problem(exc.status, exc.kind, detail=str(exc), **extra)

    def _template_label(name: str) -> str:
        """A metrics label: a served template's name, never whatever a caller typed (unbounded series)."""
        return name if name in tailor.template_names() else "unknown"

    def _record(email: Email, seconds: float) -> None:
        metrics.render_seconds.labels(email.template, "ok").observe(seconds)
        for fallback in email.fallbacks:
            metrics.fallbacks.labels(fallback.get("reason", "unknown")).inc()
        for slot, rule in email.winning_rules().items():
            metrics.rule_hits.labels(slot, rule).inc()
        recs = email.recommendations or {}
        if recs:
            metrics.recs.labels(str(recs.get("provider")), "ok" if recs.get("provider") else "hidden").inc()

    def _repeat(key: tuple, send_id: str | None) -> Response | None:
        """The answer already given for this send (Braze renders a send several times)."""
        cached = sends.get(key) if send_id else None
        if cached is None:
            return None
        g.outcome = "repeat"
        return json_response(cached)

    @app.post("/v1/render")
    def render() -> Response:
        body = json_body(MAX_BODY_BYTES)
        try:
            args = _render_args(body)
        except InvalidInput as exc:
            return _tailor_error(exc)
        g.template = args["template"]
        key = ("render", args.get("send_id"), args["template"], _recipient_key(args))
        repeat = _repeat(key, args.get("send_id"))
        if repeat:
            return repeat
        started = time.perf_counter()
        try:
            email = tailor.render(
                args["template"],
                profile=args.get("profile"),
                recipient=args.get("recipient"),
                at=args.get("at"),
                context=args.get("context"),
                send_id=args.get("send_id"),
            )
        except TailorError as exc:
            metrics.render_seconds.labels(_template_label(args["template"]), exc.kind).observe(
                time.perf_counter() - started
            )
            return _tailor_error(exc)
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
        }
        if args.get("send_id"):
            sends.put(key, payload)
        g.outcome = "ok" if not email.fallbacks else "ok-with-fallbacks"
        return json_response(payload)

    @app.get("/v1/content/<template>/<slot>")
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
        key = ("content", send_id, template, slot, ref)
        repeat = _repeat(key, send_id)
        if repeat:
            return repeat
        started = time.perf_counter()
        try:
            compiled = tailor.compile(template)
            if slot not in compiled.slots:
                return problem(
                    404,
                    "unknown-slot",
                    detail=f"template {template!r} has no slot {slot!r} (slots: {', '.join(compiled.slots) or 'none'})",
                )
            email = tailor.render(
                template, recipient=recipient, at=request.args.get("at"), context=extra, send_id=send_id
            )
        except TailorError as exc:
            return _tailor_error(exc)
        _record(email, time.perf_counter() - started)
        payload = slot_payload(tailor, email, template, slot)
        if send_id:
            sends.put(key, payload)
        g.outcome = "ok"
        return json_response(payload)

    @app.get("/healthz")
    def healthz() -> Response:
        report, status = _health()
        if g.get("auth") is None:  # template, rule and store details only for an authenticated caller
            report = {"status": report["status"]}
        return json_response(report, status)

    def _health() -> tuple[dict[str, Any], int]:
        report: dict[str, Any] = {"status": "ok", "templates": {}, "rules": "ok"}
        status = 200
        try:
            book = tailor.rulebook
            report["rules"] = "ok" if book is not None else "missing"
            if tailor.rules_errors:  # a broken edit: the last good rules keep serving
                report["rules"] = f"error: {tailor.rules_errors[0]}"
                report["status"] = "degraded"
        except Exception as exc:  # broken rules: report, keep serving what was loaded
            report["rules"] = f"error: {exc}"
            report["status"] = "degraded"
        for name in tailor.template_names():
            # what renders are served: the current version, or the last good one and its error
            try:
                tailor.compiler.get(name)
                problems = tailor.compiler.errors.get(name, [])
            except ProblemError as exc:
                problems = exc.problems
            report["templates"][name] = "ok" if not problems else str(problems[0])
            if problems:
                report["status"] = "degraded"
        if tailor.store is not None:
            try:
                ok = bool(tailor.store.health())
            except Exception:
                ok = False
            report["store"] = "ok" if ok else "unreachable"
            if not ok:
                report["status"], status = "unavailable", 503
        return report, status

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # several gunicorn workers: add up what every worker recorded
            from prometheus_client import CollectorRegistry, multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json")
    def openapi() -> Response:
        from tailor.web.openapi import openapi_document

        return json_response(openapi_document())

    _register_blueprints(app, tailor, settings, on_erase=[lambda profile_id: sends.clear()])
    return app


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to listen beyond loopback with no credential configured: everything would be open."""
    if not is_loopback_interface(host) and not settings.has_credentials:
        shown = host if host else '""'
        raise ConfigError(
            f"refusing to listen on {shown}: it is not a loopback interface and no credentials are configured. "
            "Set TAILOR_SECRET and/or TAILOR_API_TOKENS (and TAILOR_WRITE_KEYS for ingestion), "
            "or listen on 127.0.0.1"
        )


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


#: the catalog fields an ESP needs to render a product card itself
_PRODUCT_FIELDS = ("id", "title", "brand", "category", "price", "currency", "url", "image_url")


def _product_objects(tailor: Tailor, ids: list[Any]) -> list[dict[str, Any]]:
    """Recommended product ids as objects with the catalog fields (connected content renders them)."""
    catalog = tailor._catalog_index()
    products = []
    for pid in ids:
        row = catalog.get(str(pid)) or {"id": pid}
        products.append({k: row[k] for k in _PRODUCT_FIELDS if row.get(k) is not None})
    return products


def _recipient_key(args: Mapping[str, Any]) -> str:
    ref = args.get("recipient") or args.get("profile") or {}
    return (
        json.dumps({k: ref.get(k) for k in ("id", "email", "user_id")}, sort_keys=True)
        if isinstance(ref, Mapping)
        else ""
    )


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


def _is_store_error(exc: Exception) -> bool:
    try:
        from sqlalchemy.exc import InterfaceError, OperationalError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, (OperationalError, InterfaceError))


def _register_blueprints(app: Flask, tailor: Tailor, settings: Settings, *, on_erase: list[Any]) -> None:
    """The preview UI always; ingestion, ESP webhooks and profile endpoints when there is a store."""
    from tailor.web.esp import create_esp_blueprint
    from tailor.web.ingest import create_ingest_blueprint
    from tailor.web.preview import create_preview_blueprint
    from tailor.web.profiles import create_profiles_blueprint

    app.register_blueprint(create_preview_blueprint(tailor))
    if tailor.store is not None:
        app.register_blueprint(create_ingest_blueprint(tailor.store, settings))
        app.register_blueprint(create_esp_blueprint(tailor.store, settings))
        app.register_blueprint(create_profiles_blueprint(tailor.store, settings, on_erase=on_erase))
