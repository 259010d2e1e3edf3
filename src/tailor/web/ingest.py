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

import hmac
import json
import logging
import zlib
from typing import Any

from flask import Blueprint, Request, Response, current_app, request

from tailor.config import Settings
from tailor.store import IngestResult, Store, ValidationError
from tailor.web.auth import is_loopback
from tailor.web.logs import log
from tailor.web.problem import problem

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
SINGLE_TYPES = ("track", "identify", "page", "screen", "group", "alias")


class _TooLarge(Exception):
    pass


def create_ingest_blueprint(store: Store, settings: Settings, *, bind_host: str | None = None) -> Blueprint:
    """The ingestion routes over ``store``; write keys from ``settings.write_keys``.

    With no write key configured, calls are accepted only when the server is bound to
    loopback (``bind_host``) — or, when the bind address is not known, only from a
    loopback client.
    """
    bp = Blueprint("ingest", __name__)

    def authorize(body: dict[str, Any]) -> Response | bool:
        """A refusal, or whether the write key used is trusted (may merge two known profiles)."""
        given = _write_key(request, body)
        if settings.write_keys:
            matched = None
            for known in settings.write_keys:
                if given is not None and hmac.compare_digest(given.encode(), known.encode()):
                    matched = known
            if matched is not None:
                return matched in settings.trusted_write_keys
            return problem(
                401, "unauthorized", detail="unknown or missing write key (HTTP basic-auth user or `writeKey`)"
            )
        local = is_loopback(bind_host) if bind_host is not None else is_loopback(request.remote_addr or "")
        if local:
            return False  # the keyless development mode is not a trusted source
        return problem(
            401, "unauthorized", detail="no TAILOR_WRITE_KEYS configured: ingestion is only accepted on loopback"
        )

    def handle(kind: str) -> Response:
        limit = MAX_BATCH_BYTES if kind == "batch" else MAX_MESSAGE_BYTES
        try:
            raw = _body(request, limit)
        except _TooLarge:
            return problem(
                413,
                "payload-too-large",
                detail=f"a {'batch' if kind == 'batch' else 'message'} may be at most {limit // 1024} KB",
            )
        except (OSError, zlib.error, EOFError):
            return problem(400, "malformed-body", detail="the body is not valid gzip")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            return problem(400, "malformed-json", detail=f"request body is not valid JSON{where}", pointer="")
        if not isinstance(body, dict):
            return problem(400, "invalid-message", detail="the body must be a JSON object", pointer="")
        trusted = authorize(body)
        if isinstance(trusted, Response):
            return trusted
        unpacked = _messages(kind, body)
        if isinstance(unpacked, Response):
            return unpacked
        messages, prefix = unpacked
        try:
            if prefix:
                result = store.ingest(messages, pointer=prefix, trusted=trusted)
            else:
                result = store.ingest_message(messages[0], trusted=trusted)
        except ValidationError as exc:
            return problem(400, "invalid-message", detail=exc.message, pointer=exc.pointer)
        log(logging.INFO, "ingested", endpoint=kind, accepted=result.accepted, duplicates=result.duplicates)
        _report_conflicts(result, kind)
        answer: dict[str, Any] = {"success": True}
        if result.clashes:  # only then: the answer stays exactly Segment's otherwise
            answer["warnings"] = _clash_warnings(result, kind)
        return Response(json.dumps(answer), status=200, mimetype="application/json")

    for kind in (*SINGLE_TYPES, "batch"):
        bp.add_url_rule(f"/v1/{kind}", f"ingest_{kind}", (lambda kind=kind: handle(kind)), methods=["POST"])
    return bp


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
            logging.WARNING,
            "identity claim refused: it belongs to another known profile",
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
    log(logging.WARNING, "messageId clashes", endpoint=endpoint, kinds=sorted({c.kind for c in result.clashes}))
    return warnings


def _write_key(req: Request, body: dict[str, Any]) -> str | None:
    if req.authorization and req.authorization.type == "basic" and req.authorization.username:
        return req.authorization.username
    key = body.get("writeKey")
    return key if isinstance(key, str) and key else None


def _body(req: Request, limit: int) -> bytes:
    """The request body, gunzipped if needed; _TooLarge beyond ``limit`` bytes (also gzip bombs)."""
    raw = req.get_data(cache=False)
    if req.headers.get("Content-Encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(raw, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise _TooLarge()
        if not inflater.eof:
            raise EOFError("truncated gzip stream")
        return data
    if len(raw) > limit:
        raise _TooLarge()
    return raw


def _size(message: Any) -> int:
    return len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
