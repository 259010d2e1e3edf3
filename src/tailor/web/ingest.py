"""Segment-compatible ingestion: ``POST /v1/track|identify|page|screen|group|alias|batch``.

Compatible with the Segment HTTP Tracking API and the official libraries: the write
key is the HTTP basic-auth user or ``writeKey`` in the body, ``Content-Encoding: gzip``
bodies are accepted, a message may be 32 KB and a batch 500 KB (413 beyond). A batch
is stored all or nothing and committed before the 200, so an acknowledged event
survives a crash of the process; a retry stores nothing twice (``messageId``, unique
per person: see :func:`tailor.store.messages.dedup_scope`). A ``messageId`` already used
for another message is reported in the 200 answer's ``warnings`` (and counted), never
silently dropped. A write key marked trusted (``key:trusted`` in ``TAILOR_WRITE_KEYS``)
may merge two known profiles; any other may not (see :mod:`tailor.store.ingest`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Blueprint, Response, current_app

from tailor.config import Settings
from tailor.store import IngestResult, Store, ValidationError
from tailor.web.auth import is_trusted_writer, on_register
from tailor.web.body import BadBody, json_body, json_response, raw_body
from tailor.web.logs import log
from tailor.web.problem import problem

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
SINGLE_TYPES = ("track", "identify", "page", "screen", "group", "alias")


def create_ingest_blueprint(store: Store, settings: Settings) -> Blueprint:
    """The ingestion routes over ``store``.

    Who may call them (a write key from ``settings.write_keys``, or a loopback caller
    when no credential is configured) is :mod:`tailor.web.auth`'s policy, installed on
    the app this blueprint is registered on.
    """
    bp = Blueprint("ingest", __name__)
    bp.record_once(on_register(settings))
    bp.record_once(lambda state: state.app.extensions.update({_KEY: _Ingestion(store, settings)}))
    for kind in (*SINGLE_TYPES, "batch"):
        bp.add_url_rule(f"/v1/{kind}", f"ingest_{kind}", ingest, methods=["POST"], defaults={"kind": kind})
    return bp


#: the app.extensions key of what the views need
_KEY = "tailor.ingest"


@dataclass(frozen=True)
class _Ingestion:
    store: Store
    settings: Settings


def ingest(kind: str) -> Response:
    """``POST /v1/<kind>``: one Segment message, or a batch, stored all or nothing."""
    deps: _Ingestion = current_app.extensions[_KEY]
    limit = MAX_BATCH_BYTES if kind == "batch" else MAX_MESSAGE_BYTES
    too_large = problem(
        413,
        "payload-too-large",
        detail=f"a {'batch' if kind == 'batch' else 'message'} may be at most {limit // 1024} KB",
    )
    try:
        if len(raw_body(MAX_BATCH_BYTES, gzip=True)) > limit:
            return too_large
        body = json_body(MAX_BATCH_BYTES, gzip=True, require_json_type=False, require_object=False)
    except BadBody as exc:  # the body limit is this route's (a message or a batch), not the reader's
        return too_large if exc.status == 413 else exc.response()
    if not isinstance(body, dict):
        return problem(400, "invalid-message", detail="the body must be a JSON object", pointer="")
    trusted = is_trusted_writer(deps.settings)
    unpacked = _messages(kind, body)
    if isinstance(unpacked, Response):
        return unpacked
    messages, prefix = unpacked
    try:
        if prefix:
            result = deps.store.ingest(messages, pointer=prefix, trusted=trusted)
        else:
            result = deps.store.ingest_message(messages[0], trusted=trusted)
    except ValidationError as exc:
        return problem(400, "invalid-message", detail=exc.message, pointer=exc.pointer)
    log(logger, logging.INFO, "ingested", endpoint=kind, accepted=result.accepted, duplicates=result.duplicates)
    _report_conflicts(result, kind)
    answer: dict[str, Any] = {"success": True}
    if result.clashes:  # only then: the answer stays exactly Segment's otherwise
        answer["warnings"] = _clash_warnings(result, kind)
    return json_response(answer)


def _messages(kind: str, body: dict[str, Any]) -> tuple[list[Any], str] | Response:
    """The messages of a request body and their pointer prefix, ready for the store; or a refusal."""
    if kind == "batch":
        messages, prefix = body.get("batch"), "/batch"
        if not isinstance(messages, list):
            return problem(400, "invalid-message", detail="`batch` must be an array of messages", pointer="/batch")
        for i, message in enumerate(messages):
            if _size(message) > MAX_MESSAGE_BYTES:
                return problem(
                    413, "payload-too-large", detail=f"message {i} is larger than 32 KB", pointer=f"/batch/{i}"
                )
            if isinstance(message, dict) and "sentAt" not in message and isinstance(body.get("sentAt"), str):
                # the batch's send time corrects each message's client clock
                message["sentAt"] = body["sentAt"]
    else:
        message = {k: v for k, v in body.items() if k != "writeKey"}
        if message.get("type", kind) != kind:
            return problem(400, "invalid-message", detail=f"`type` must be {kind!r} on /v1/{kind}", pointer="/type")
        message["type"] = kind
        messages, prefix = [message], ""
    for message in messages:
        if isinstance(message, dict):
            message.pop("writeKey", None)
            # the receive time is tailor's clock, never the caller's (it anchors the skew correction)
            message.pop("receivedAt", None)
    return messages, prefix


def _report_conflicts(result: IngestResult, endpoint: str) -> None:
    """Count and log refused identity claims: profile ids and the kind only, never the email."""
    metrics = current_app.extensions.get("tailor.metrics")
    for conflict in result.conflicts:
        if metrics is not None:
            metrics.identity_conflicts.labels(conflict.kind).inc()
        log(
            logger,
            logging.WARNING,
            # the kind says which: another profile's identifier, a known email, a consent grant
            "identity claim refused",
            endpoint=endpoint,
            kind=conflict.kind,
            message_id=conflict.message_id,
            owner=conflict.owner,
            claimant=conflict.claimant,
        )


def _clash_warnings(result: IngestResult, endpoint: str) -> list[dict[str, str]]:
    """Count ``messageId`` clashes and describe each for the answer (the message's pointer, no content)."""
    metrics = current_app.extensions.get("tailor.metrics")
    warnings = []
    for clash in result.clashes:
        if metrics is not None:
            metrics.message_id_clashes.labels(clash.kind).inc()
        warnings.append(
            {"code": f"message-id-{clash.kind}", "pointer": f"{clash.pointer}/messageId", "detail": clash.detail}
        )
    log(logger, logging.WARNING, "messageId clashes", endpoint=endpoint, kinds=sorted({c.kind for c in result.clashes}))
    return warnings


def _size(message: Any) -> int:
    """The message's size in UTF-8 bytes of its compact JSON form (what a message limit counts).

    orjson writes that form directly as bytes, ~25× cheaper than ``json.dumps`` + encode
    (this runs once per message of every batch); the two agree byte for byte but for a
    tiny float's exponent (``1e-7`` against ``1e-07``). What orjson cannot encode (an
    integer beyond 64 bits) is measured by ``json``.
    """
    try:
        return len(orjson.dumps(message))
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
