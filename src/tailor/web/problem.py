"""RFC 9457 problem details: every error the HTTP API returns, never an HTML page."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

#: base of the stable ``type`` URI of each error kind (documented in docs/api.md)
TYPE_BASE = "https://tailor.dev/problems/"

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(status: int, type_slug: str, title: str | None = None, detail: str = "", **extra: Any) -> Response:
    """A ``application/problem+json`` response with ``type``, ``title``, ``status``, ``detail``."""
    body = {
        "type": TYPE_BASE + type_slug,
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return Response(json.dumps(body, default=str), status=status, mimetype="application/problem+json")
