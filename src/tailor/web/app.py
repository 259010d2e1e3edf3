"""The Flask app factory: settings, the :class:`~tailor.core.Tailor`, the policy, the blueprints.

Who may call what is decided in one place, :mod:`tailor.web.auth` (installed first,
in front of every route); request bodies are read and answers written by
:mod:`tailor.web.body`, so every route refuses the same bad input the same way. The
routes are module-level views in one blueprint per API area (:mod:`~tailor.web.render`,
:mod:`~tailor.web.ops`, :mod:`~tailor.web.ingest`, :mod:`~tailor.web.esp`,
:mod:`~tailor.web.profiles`, :mod:`~tailor.web.preview`) reading their dependencies from
``current_app.extensions``; errors are answered by one handler per family here
(a :class:`~tailor.email.TailorError` by its ``status``/``kind``, a bad body, an HTTP
error, and anything unexpected as a 500 — or a 503 when the store is unreachable).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from tailor.config import ConfigError, Settings
from tailor.core import Tailor
from tailor.email import InvalidInput, RenderAborted, TailorError, TemplateBroken
from tailor.problems import Problem
from tailor.web import ops, render
from tailor.web.auth import install, is_loopback_interface
from tailor.web.body import BadBody
from tailor.web.logs import log, safe_label
from tailor.web.metrics import Metrics
from tailor.web.problem import problem
from tailor.web.sends import send_cache

logger = logging.getLogger(__name__)

#: largest request body accepted (the send-time endpoints' limit; Braze sends at most 1 MB)
MAX_BODY_BYTES = render.MAX_BODY_BYTES


def create_app(
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
    app.extensions["tailor.metrics"] = Metrics()
    sends = app.extensions["tailor.sends"] = send_cache(settings.redis_url)
    #: the broken edits already logged ({template or "rules": problems}), so each is logged once
    app.extensions["tailor.reported_edits"] = {}
    if not settings.has_credentials:
        log(
            logger,
            logging.WARNING,
            "no TAILOR_SECRET, TAILOR_API_TOKENS or TAILOR_WRITE_KEYS: only loopback callers are served",
        )
    app.before_request(_start)
    # after the request id (a refused request is logged with its id), before every route
    install(app, settings)
    app.after_request(_finish)

    app.register_error_handler(TailorError, tailor_error)
    app.register_error_handler(BadBody, BadBody.response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

    app.register_blueprint(render.bp)
    app.register_blueprint(ops.bp)
    _register_blueprints(app, tailor, settings, on_erase=[lambda profile_id: sends.clear()])
    # per worker: suppressions in memory, send records journaled and flushed by a thread
    # (drained at exit; what a killed worker left is inserted now, see tailor.monitor.send_journal)
    tailor.serve_sends()
    return app


def _start() -> Response | None:
    # the caller's id is echoed and logged only when it is a plain token (log injection, PII)
    g.request_id = safe_label(request.headers.get("X-Request-Id")) or uuid.uuid4().hex[:16]
    g.started = time.perf_counter()
    if "\x00" in request.path or any("\x00" in k + v for k, v in request.args.items(multi=True)):
        # %00 in a profile id, a recipient or a token: PostgreSQL refuses to compare it (a 500), and
        # no stored value can hold one (tailor.strict_json refuses it in bodies); answered here, so
        # the studio's own error page (HTML) is not in the way either
        return problem(400, "invalid-input", detail="the URL holds a NUL character (%00)")
    return None


def _finish(response: Response) -> Response:
    tailor: Tailor = current_app.extensions["tailor"]
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    latency_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    current_app.extensions["tailor.metrics"].requests.labels(endpoint, str(response.status_code)).inc()
    response.headers["X-Request-Id"] = g.get("request_id", "")
    broken = tailor.workspace.broken_edits()
    if broken or current_app.extensions["tailor.reported_edits"]:
        _log_broken_edits(broken, current_app.extensions["tailor.reported_edits"])
    if endpoint not in ("/metrics", "/healthz"):
        # the route pattern, never the path: paths and queries can carry emails
        log(
            logger,
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


def _log_broken_edits(broken: dict[str, list[Problem]], reported: dict[str, list[str]]) -> None:
    """Log once when an edit breaks a template or the rules (the last good version keeps serving)."""
    current = {name: [str(p) for p in problems] for name, problems in broken.items()}
    if current == reported:
        return
    for name, problems in current.items():
        if reported.get(name) != problems:
            log(logger, logging.ERROR, "broken edit: serving the last good version", what=name, problems=problems)
    for name in set(reported) - set(current):
        log(logger, logging.INFO, "broken edit fixed: serving the new version", what=name)
    reported.clear()
    reported.update(current)


def tailor_error(exc: TailorError) -> Response:
    """A refused render or request as problem+json: ``exc.status``, ``exc.kind`` and what the caller needs."""
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


def _unexpected(exc: Exception) -> Response:
    log(logger, logging.ERROR, "unhandled error", request_id=g.get("request_id"), error=type(exc).__name__)
    if _is_store_error(exc):
        return problem(503, "store-unavailable", detail="the profile store is not reachable")
    return problem(
        500,
        "internal",
        detail=f"unexpected {type(exc).__name__}; see the server log for request {g.get('request_id')}",
    )


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to listen beyond loopback with no credential configured: everything would be open."""
    if not is_loopback_interface(host) and not settings.has_credentials:
        shown = host if host else '""'
        raise ConfigError(
            f"refusing to listen on {shown}: it is not a loopback interface and no credentials are configured. "
            "Set TAILOR_SECRET and/or TAILOR_API_TOKENS (and TAILOR_WRITE_KEYS for ingestion), "
            "or listen on 127.0.0.1"
        )


def _is_store_error(exc: Exception) -> bool:
    from sqlalchemy.exc import DatabaseError

    from tailor.store.lazy import is_unreachable

    # a bare DatabaseError is SQLite's "file is not a database": the file was truncated or
    # overwritten under the server; other DatabaseError kinds (integrity, data) are bugs
    return is_unreachable(exc) or type(exc) is DatabaseError


def _register_blueprints(app: Flask, tailor: Tailor, settings: Settings, *, on_erase: list[Any]) -> None:
    """The preview UI always; ingestion, ESP webhooks and profile endpoints when there is a store."""
    from tailor.web.esp import create_esp_blueprint
    from tailor.web.ingest import create_ingest_blueprint
    from tailor.web.preview import create_preview_blueprint
    from tailor.web.profiles import create_profiles_blueprint
    from tailor.web.unsubscribe import create_unsubscribe_blueprint

    app.register_blueprint(create_preview_blueprint(tailor))
    if tailor.store is not None:
        app.register_blueprint(create_ingest_blueprint(tailor.store, settings))
        app.register_blueprint(create_esp_blueprint(tailor.store, settings))
        app.register_blueprint(create_profiles_blueprint(tailor.store, settings, on_erase=on_erase))
        app.register_blueprint(create_unsubscribe_blueprint(tailor.store))
