"""The one way JSON enters and leaves the HTTP API.

Every route reads its request body with :func:`json_body` and answers with
:func:`json_response`, so the edges behave the same everywhere:

* ``NaN``/``Infinity`` (which Python's ``json`` accepts and no other JSON parser
  does), nesting deeper than :data:`MAX_DEPTH` (a recursion bomb), and lone UTF-16
  surrogates (``"\\ud800"``: they cannot be written back out as UTF-8) are refused as
  400 problem+json with a JSON pointer, instead of surfacing later as a 500;
* bodies are decoded once per request (gzip for ingestion) and cached, so the
  authentication policy (a ``writeKey`` in the body, a signature over the raw bytes)
  and the route see the same bytes;
* answers are always valid JSON in valid UTF-8, even when a stored value is not.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from typing import Any

from flask import Response, g, request

from tailor.web.problem import problem

#: deepest nesting accepted in a request body (real profiles and contexts are far shallower)
MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
#: a \uD800-\uDFFF escape in the JSON text: the only way a surrogate gets into a parsed value
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB]|\\u[dD][c-fC-F]")


class BadBody(Exception):
    """A request body the API refuses; :meth:`response` is its problem+json."""

    def __init__(self, status: int, kind: str, detail: str, pointer: str | None = ""):
        # pointer "" is the whole document (RFC 6901); None leaves it out
        super().__init__(detail)
        self.status, self.kind, self.detail, self.pointer = status, kind, detail, pointer

    def response(self) -> Response:
        return problem(self.status, self.kind, detail=self.detail, pointer=self.pointer)


def loads(raw: bytes | str) -> Any:
    """Parse JSON strictly (see the module docstring); :class:`BadBody` says what and where."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except _Constant as exc:
        raise BadBody(400, "malformed-json", f"request body is not valid JSON: {exc} is not a JSON number") from None
    except RecursionError:
        raise BadBody(400, "malformed-json", f"request body is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise BadBody(
            400, "malformed-json", f"request body is not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise BadBody(400, "malformed-json", "request body is not valid UTF-8 JSON") from None
    text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if isinstance(value, (dict, list)):
        _check_tree(value, strings=bool(_SURROGATE_ESCAPE.search(text)))
    elif isinstance(value, str) and _SURROGATE.search(value):
        raise BadBody(400, "invalid-input", "the body is a lone UTF-16 surrogate (not text)")
    return value


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
    try:
        text = json.dumps(payload, default=str, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a non-finite float from stored data: JSON has no such number
        text = json.dumps(_finite(payload), default=str, ensure_ascii=False)
    response = Response(text.encode("utf-8", "replace"), status=status, mimetype="application/json")
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response


class _Constant(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Constant(name)


def _check_tree(value: Any, *, strings: bool) -> None:
    """Depth, and when ``strings`` surrogate, checks without recursion (the value may be as deep as
    the parser allowed). Strings are visited only when the text held a surrogate escape; the JSON
    pointer is built only for an error (``trail`` is a linked list of keys)."""
    stack: list[tuple[Any, int, Any]] = [(value, 0, None)]
    while stack:
        item, depth, trail = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise BadBody(
                    400, "invalid-input", "a string holds a lone UTF-16 surrogate (not text)", _pointer(trail)
                )
            continue
        if depth >= MAX_DEPTH:
            raise BadBody(400, "invalid-input", f"nested more than {MAX_DEPTH} levels deep", _pointer(trail))
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if strings and isinstance(key, str) and _SURROGATE.search(key):
                raise BadBody(400, "invalid-input", "a key holds a lone UTF-16 surrogate (not text)", _pointer(trail))
            if isinstance(child, (dict, list)) or (strings and isinstance(child, str)):
                stack.append((child, depth + 1, (key, trail)))


def _pointer(trail: Any) -> str:
    keys: list[str] = []
    while trail is not None:
        key, trail = trail
        keys.append(_escape(str(key)))
    return "".join("/" + k for k in reversed(keys)) or "/"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


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
