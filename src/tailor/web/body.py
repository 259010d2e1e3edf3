"""The one way JSON enters and leaves the HTTP API.

Every route reads its request body with :func:`json_body` and answers with
:func:`json_response`, so the edges behave the same everywhere:

* what :mod:`tailor.strict_json` refuses (``NaN``, ``1e999``, recursion bombs, lone
  surrogates, huge integers) is a 400 problem+json, with a JSON pointer when the
  parser knows the value, instead of surfacing later as a 500;
* bodies are decoded once per request (gzip for ingestion) and cached, so the
  authentication policy (a ``writeKey`` in the body, a signature over the raw bytes)
  and the route see the same bytes;
* answers are always valid JSON in valid UTF-8, even when a stored value is not;
  they are encoded by orjson (a render's ~80 KB answer in ~30 µs where ``json.dumps``
  took ~550 µs: the largest cost of a request outside the render), with the ``json``
  module as the fallback for what orjson refuses (lone surrogates, integers beyond
  64 bits).
"""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

import orjson
from flask import Response, g, request

from tailor import strict_json
from tailor.strict_json import InvalidJSON
from tailor.web.problem import problem


class BadBody(Exception):
    """A request body the API refuses; :meth:`response` is its problem+json."""

    def __init__(self, status: int, kind: str, detail: str, pointer: str | None = ""):
        # pointer "" is the whole document (RFC 6901); None leaves it out
        super().__init__(detail)
        self.status, self.kind, self.detail, self.pointer = status, kind, detail, pointer

    def response(self) -> Response:
        return problem(self.status, self.kind, detail=self.detail, pointer=self.pointer)


def loads(raw: bytes | str) -> Any:
    """Parse JSON with :func:`tailor.strict_json.loads`; :class:`BadBody` says what and where."""
    try:
        return strict_json.loads(raw)
    except InvalidJSON as exc:
        if exc.pointer is not None:  # a value the parser read but tailor refuses: say which one
            raise BadBody(400, "invalid-input", exc.message, exc.pointer) from None
        where = f" at line {exc.line} column {exc.col}" if exc.line else ""
        raise BadBody(400, "malformed-json", f"request body is not valid JSON{where}: {exc.message}") from None


def raw_body(max_bytes: int, *, gzip: bool = False) -> bytes:
    """The request body (gunzipped when ``gzip`` and the request says so), at most ``max_bytes``; cached."""
    cached = g.get("_tailor_body")
    if cached is None:
        data = request.get_data(cache=True)
        if gzip and request.headers.get("Content-Encoding", "").lower() == "gzip":
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                data = inflater.decompress(data, max_bytes + 1)
            except zlib.error:
                raise BadBody(400, "malformed-body", "the body is not valid gzip") from None
            if len(data) <= max_bytes and not inflater.unconsumed_tail and not inflater.eof:
                raise BadBody(400, "malformed-body", "the body is not valid gzip (truncated)")
            if inflater.unconsumed_tail:  # a gzip bomb: stop inflating at the limit
                data = data[: max_bytes + 1]
        g._tailor_body = cached = data
    if len(cached) > max_bytes:
        raise BadBody(413, "payload-too-large", f"the request body may be at most {max_bytes // 1024} KB", None)
    return cached


def json_body(
    max_bytes: int, *, gzip: bool = False, require_json_type: bool = True, require_object: bool = True
) -> Any:
    """The request body parsed by :func:`loads` (cached per request)."""
    if require_json_type and not request.is_json:
        raise BadBody(415, "unsupported-media-type", "send Content-Type: application/json", None)
    if "_tailor_json" not in g:
        g._tailor_json = loads(raw_body(max_bytes, gzip=gzip) or b"null")
    body = g._tailor_json
    if require_object and not isinstance(body, dict):
        raise BadBody(400, "invalid-input", f"request body must be a JSON object, got {_json_type(body)}", "/")
    return body


def json_response(payload: Any, status: int = 200, *, no_store: bool = False) -> Response:
    """``payload`` as ``application/json``: valid JSON (no NaN) in valid UTF-8, whatever the data held."""
    response = Response(encode(payload), status=status, mimetype="application/json")
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response


#: what ``json.dumps`` did for free: keys that are numbers, ``None`` or booleans become strings;
#: datetimes go through :func:`_default` (``str``), as before, not orjson's own format
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def encode(payload: Any) -> bytes:
    """``payload`` as UTF-8 JSON bytes; a non-finite float becomes ``null``, an unknown type its ``str``."""
    try:
        return orjson.dumps(payload, default=_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:  # a lone surrogate or an integer beyond 64 bits: the slow path copes
        pass
    try:
        text = json.dumps(payload, default=str, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a non-finite float from stored data: JSON has no such number
        text = json.dumps(_finite(payload), default=str, ensure_ascii=False)
    return text.encode("utf-8", "replace")


def _default(value: Any) -> Any:
    # a float subclass (numpy.float64) is a number for json.dumps; orjson hands it here
    return float(value) if isinstance(value, float) else str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )
