"""Segment-compatible ingestion: ``POST /v1/track|identify|page|screen|group|alias|batch``.

Compatible with the Segment HTTP Tracking API and the official libraries: the write
key is the HTTP basic-auth user or ``writeKey`` in the body, ``Content-Encoding: gzip``
bodies are accepted, a message may be 32 KB and a batch 500 KB (413 beyond). A batch
is stored all or nothing and committed before the 200, so an acknowledged event
survives a crash of the process; a retry stores nothing twice (``messageId``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response

from tailor.config import Settings
from tailor.store import Store, ValidationError
from tailor.web.auth import on_register
from tailor.web.body import BadBody, json_body, json_response, raw_body
from tailor.web.logs import log
from tailor.web.problem import problem

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

    def handle(kind: str) -> Response:
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
        except BadBody as exc:
            return too_large if exc.status == 413 else exc.response()
        if not isinstance(body, dict):
            return problem(400, "invalid-message", detail="the body must be a JSON object", pointer="")
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
        try:
            result = store.ingest(messages, pointer=prefix) if prefix else store.ingest_message(messages[0])
        except ValidationError as exc:
            return problem(400, "invalid-message", detail=exc.message, pointer=exc.pointer)
        log(logging.INFO, "ingested", endpoint=kind, accepted=result.accepted, duplicates=result.duplicates)
        return json_response({"success": True})

    for kind in (*SINGLE_TYPES, "batch"):
        bp.add_url_rule(f"/v1/{kind}", f"ingest_{kind}", (lambda kind=kind: handle(kind)), methods=["POST"])
    return bp


def _size(message: Any) -> int:
    return len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
