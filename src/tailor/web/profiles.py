"""Profile endpoints: read, data-subject export, erasure, consent choices.

``GET /v1/profiles/<id>``, ``GET /v1/profiles/<id>/export``, ``DELETE /v1/profiles/<id>``,
``PUT /v1/profiles/<id>/consents``. ``<id>`` is a profile id, user id or anonymous id.
Authentication is the send-time endpoints' (a signature or an API token), applied by
the app's policy (:mod:`tailor.web.auth`).
Answers are ``Cache-Control: no-store``; nothing personal is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Blueprint, Response, current_app

from tailor.config import Settings
from tailor.privacy import UnknownPurpose, erase_profile, export_profile, install_log_redaction, set_consents
from tailor.store import Store
from tailor.web.auth import on_register
from tailor.web.body import json_body, json_response
from tailor.web.logs import log
from tailor.web.problem import problem

logger = logging.getLogger(__name__)

#: a consent choice is a handful of booleans
MAX_BODY_BYTES = 64 * 1024


def create_profiles_blueprint(
    store: Store, settings: Settings, *, on_erase: Iterable[Callable[[str], None]] = ()
) -> Blueprint:
    """The profile routes over ``store``.

    ``on_erase`` callbacks get an erased profile's id after the commit (drop in-memory
    caches holding renders or recommendations for it). Creating the blueprint also
    installs :func:`tailor.privacy.install_log_redaction` (request lines in Werkzeug's
    and gunicorn's access logs lose their query strings and email addresses).
    """
    install_log_redaction()
    bp = Blueprint("profiles", __name__)
    bp.record_once(on_register(settings))
    profiles = _Profiles(store, settings, list(on_erase))
    bp.record_once(lambda state: state.app.extensions.update({_KEY: profiles}))
    bp.add_url_rule("/v1/profiles/<profile_id>/export", view_func=export, methods=["GET"])
    bp.add_url_rule("/v1/profiles/<profile_id>", view_func=read, methods=["GET"])
    bp.add_url_rule("/v1/profiles/<profile_id>", view_func=erase, methods=["DELETE"])
    bp.add_url_rule("/v1/profiles/<profile_id>/consents", view_func=consents, methods=["PUT"])
    return bp


#: the app.extensions key of what the views need
_KEY = "tailor.profiles"


@dataclass(frozen=True)
class _Profiles:
    store: Store
    settings: Settings
    on_erase: list[Callable[[str], None]]


def _deps() -> _Profiles:
    return current_app.extensions[_KEY]


def export(profile_id: str) -> Response:
    doc = export_profile(_deps().store, profile_id)
    if doc is None:
        return _unknown()
    response = _json(doc)
    response.headers["Content-Disposition"] = 'attachment; filename="profile-export.json"'
    log(logger, logging.INFO, "profile exported", events=len(doc.get("events", [])))
    return response


def read(profile_id: str) -> Response:
    doc = _deps().store.load_profile(id=profile_id)
    return _unknown() if doc is None else _json(doc)


def erase(profile_id: str) -> Response:
    deps = _deps()
    receipt = erase_profile(deps.store, profile_id, artifacts=deps.settings.artifacts, on_erase=deps.on_erase)
    if receipt is None:
        return _unknown()
    log(
        logger,
        logging.INFO,
        "profile erased",
        rows=sum(receipt["rows_deleted"].values()),
        retrain_flagged=receipt["retrain_flagged"],
    )
    return _json(receipt)


def consents(profile_id: str) -> Response:
    body = json_body(MAX_BODY_BYTES)  # a bad body is the app's BadBody handler's
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
            _deps().store, profile_id, choices, source=label if label.startswith(("api", "esp:")) else f"api:{label}"
        )
    except UnknownPurpose as exc:
        return problem(400, "invalid-input", detail=str(exc), pointer=f"/consents/{exc.purpose}")
    if values is None:
        return _unknown()
    return _json({"consents": values})


def _unknown() -> Response:
    return problem(404, "unknown-profile", detail="no profile with this id")


def _json(payload: object) -> Response:
    return json_response(payload, no_store=True)
