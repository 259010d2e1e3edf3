"""Profile endpoints: read, data-subject export, erasure, consent choices.

``GET /v1/profiles/<id>``, ``GET /v1/profiles/<id>/export``, ``DELETE /v1/profiles/<id>``,
``PUT /v1/profiles/<id>/consents``. ``<id>`` is a profile id, user id or anonymous id.
Authentication is the send-time endpoints' (:func:`tailor.web.auth.authenticate`).
Answers are ``Cache-Control: no-store``; nothing personal is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, request

from tailor.config import Settings
from tailor.privacy import UnknownPurpose, erase_profile, export_profile, install_log_redaction, set_consents
from tailor.store import Store
from tailor.web.auth import authenticate
from tailor.web.logs import log
from tailor.web.problem import problem


def create_profiles_blueprint(  # noqa: C901 - a Flask factory: mccabe sums the route closures defined in it
    store: Store, settings: Settings, *, bind_host: str, on_erase: Iterable[Callable[[str], None]] = ()
) -> Blueprint:
    """The profile routes over ``store``.

    ``on_erase`` callbacks get an erased profile's id after the commit (drop in-memory
    caches holding renders or recommendations for it). Creating the blueprint also
    installs :func:`tailor.privacy.install_log_redaction` (request lines in Werkzeug's
    and gunicorn's access logs lose their query strings and email addresses).
    """
    install_log_redaction()
    bp = Blueprint("profiles", __name__)
    callbacks = list(on_erase)

    @bp.before_request
    def _auth() -> Response | None:
        result = authenticate(request, settings, bind_host=bind_host)
        if not result.ok:
            return problem(401, "unauthorized", detail=result.reason)
        return None

    @bp.get("/v1/profiles/<profile_id>/export")
    def export(profile_id: str) -> Response:
        doc = export_profile(store, profile_id)
        if doc is None:
            return _unknown()
        response = _json(doc)
        response.headers["Content-Disposition"] = 'attachment; filename="profile-export.json"'
        log(logging.INFO, "profile exported", events=len(doc.get("events", [])))
        return response

    @bp.get("/v1/profiles/<profile_id>")
    def read(profile_id: str) -> Response:
        doc = store.load_profile(id=profile_id)
        return _unknown() if doc is None else _json(doc)

    @bp.delete("/v1/profiles/<profile_id>")
    def erase(profile_id: str) -> Response:
        receipt = erase_profile(store, profile_id, artifacts=settings.artifacts, on_erase=callbacks)
        if receipt is None:
            return _unknown()
        log(
            logging.INFO,
            "profile erased",
            rows=sum(receipt["rows_deleted"].values()),
            retrain_flagged=receipt["retrain_flagged"],
        )
        return _json(receipt)

    @bp.put("/v1/profiles/<profile_id>/consents")
    def consents(profile_id: str) -> Response:
        if not request.is_json:
            return problem(415, "unsupported-media-type", detail="send Content-Type: application/json")
        try:
            body = json.loads(request.get_data(cache=True) or b"null")
        except (ValueError, UnicodeDecodeError):
            return problem(400, "malformed-json", detail="request body is not valid JSON")
        if not isinstance(body, dict):
            return problem(400, "invalid-input", detail="the body must be a JSON object", pointer="/")
        choices = body.get("consents")
        if not isinstance(choices, dict) or not choices:
            return problem(
                400, "invalid-input", detail='give `consents`: {"purpose": true|false, ...}', pointer="/consents"
            )
        source = body.get("source", "api")
        if not isinstance(source, str) or not source.strip():
            return problem(400, "invalid-input", detail="`source` must be a non-empty string", pointer="/source")
        for purpose, granted in choices.items():
            if not isinstance(granted, bool):
                return problem(400, "invalid-input", detail="must be true or false", pointer=f"/consents/{purpose}")
        label = source.strip()
        try:
            values = set_consents(
                store, profile_id, choices, source=label if label.startswith(("api", "esp:")) else f"api:{label}"
            )
        except UnknownPurpose as exc:
            return problem(400, "invalid-input", detail=str(exc), pointer=f"/consents/{exc.purpose}")
        if values is None:
            return _unknown()
        return _json({"consents": values})

    return bp


def _unknown() -> Response:
    return problem(404, "unknown-profile", detail="no profile with this id")


def _json(payload: Any, status: int = 200) -> Response:
    response = Response(
        json.dumps(payload, default=str, ensure_ascii=False), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
