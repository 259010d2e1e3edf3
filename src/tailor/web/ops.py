"""Operations: ``GET /healthz``, ``GET /metrics`` and ``GET /openapi.json``.

Module-level views over ``current_app.extensions`` (the :class:`~tailor.core.Tailor`
and the metrics ``create_app`` put there). Who may see what is the policy's
(:mod:`tailor.web.auth`): health is public with details for an authenticated caller.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tailor.core import Tailor
from tailor.problems import ProblemError
from tailor.web.body import json_response
from tailor.workspace import RULES

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    report, status = health(current_app.extensions["tailor"])
    if g.get("auth") is None:  # template, rule and store details only for an authenticated caller
        report = {"status": report["status"]}
    return json_response(report, status)


def health(tailor: Tailor) -> tuple[dict[str, Any], int]:
    """The health report and its HTTP status: degraded (200) or unavailable (503)."""
    report: dict[str, Any] = {"status": "ok", "templates": {}, "rules": "ok"}
    status = 200
    workspace = tailor.workspace
    try:
        workspace.rules()
    except Exception as exc:  # the rules never loaded: report, keep serving what needs none
        report["rules"] = f"error: {exc}"
        report["status"] = "degraded"
    for name in workspace.template_names():
        # what renders are served: the current version, or the last good one and its error
        try:
            workspace.template(name)
            problems = workspace.broken_edits().get(name, [])
        except ProblemError as exc:
            problems = exc.problems
        report["templates"][name] = "ok" if not problems else str(problems[0])
        if problems:
            report["status"] = "degraded"
    rules_problems = workspace.broken_edits().get(RULES)
    if rules_problems:  # a broken edit: the last good rules keep serving
        report["rules"] = f"error: {rules_problems[0]}"
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


@bp.get("/metrics")
def metrics() -> Response:
    if current_app.extensions["tailor"].settings.metrics_dir is not None:
        # several gunicorn workers: add up what every worker recorded
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(current_app.extensions["tailor.metrics"].registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/openapi.json")
def openapi() -> Response:
    from tailor.web.openapi import openapi_document

    return json_response(openapi_document())
