"""Outbound HTTP calls with a byte cap and a total deadline.

Socket timeouts bound each read, not the call: a server that trickles one byte a second
never trips them, and one that answers a gigabyte fills the worker's memory. Every call
tailor makes to another service (the recommendation service, trigger notifications)
goes through :func:`post`, which streams the answer in small reads and stops at
``max_bytes`` (``outbound_max_bytes`` / ``TAILOR_OUTBOUND_MAX_BYTES``) or at the
deadline, whichever comes first, and closes the connection instead of draining it.

Compressed answers are refused (tailor asks for ``identity``): a few kilobytes of gzip
can inflate past any cap before a check could run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from tailor.config import Settings

#: default of the ``outbound_max_bytes`` setting: answers tailor reads are small JSON documents
DEFAULT_MAX_BYTES = Settings.outbound_max_bytes
#: one read asks for at most this much; a read returns what has arrived, so a trickle is seen
READ_SIZE = 64 * 1024


class OutboundError(Exception):
    """The call gave no usable answer. ``kind`` is ``timeout``, ``too-large`` or ``connection``.

    ``bytes_read`` is how much of the body was read before giving up (bounded by the cap).
    """

    def __init__(self, kind: str, reason: str, *, bytes_read: int = 0):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.bytes_read = bytes_read


@dataclass
class OutboundResponse:
    """A complete answer: status, headers and the whole body (at most the cap)."""

    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def bytes_read(self) -> int:
        return len(self.content)


def post(
    session: requests.Session,
    url: str,
    *,
    data: bytes,
    deadline: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    headers: Mapping[str, str] | None = None,
) -> OutboundResponse:
    """POST ``data`` and read the whole answer before ``deadline`` (``time.monotonic()``).

    Raises :class:`OutboundError`: ``timeout`` when the deadline passes (connecting,
    waiting or reading), ``too-large`` when the body passes ``max_bytes`` (announced
    or read), ``connection`` when the connection fails. Redirects are not followed.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OutboundError("timeout", "no time left before the deadline")
    sent_headers = {"Accept-Encoding": "identity", **dict(headers or {})}
    try:
        response = session.post(
            url, data=data, headers=sent_headers, timeout=(remaining, remaining), stream=True, allow_redirects=False
        )
    except requests.Timeout:
        raise OutboundError("timeout", f"no answer within {remaining * 1000:.0f} ms") from None
    except requests.RequestException as exc:
        raise OutboundError("connection", f"connection failed: {type(exc).__name__}") from None
    try:
        content = _read_body(response, deadline, max_bytes)
        return OutboundResponse(response.status_code, dict(response.headers), content)
    finally:
        response.close()  # an unread rest is dropped with the connection, never drained


def _read_body(response: requests.Response, deadline: float, max_bytes: int) -> bytes:
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise OutboundError("too-large", f"compressed answer ({encoding}) refused: tailor asks for identity")
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise OutboundError("too-large", f"answer of {announced} bytes is over the {max_bytes}-byte cap")
    raw = response.raw
    parts: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OutboundError("timeout", "the answer did not finish before the deadline", bytes_read=size)
        _limit_next_read(raw, remaining)
        try:
            # read1: one socket read, returning what has arrived (read(n) would wait for n bytes)
            chunk = raw.read1(min(READ_SIZE, max_bytes + 1 - size), decode_content=False)
        except Exception as exc:  # urllib3 read errors: timeout, reset, protocol
            kind = "timeout" if "timed out" in str(exc).lower() or isinstance(exc, TimeoutError) else "connection"
            raise OutboundError(kind, f"reading the answer failed: {type(exc).__name__}", bytes_read=size) from None
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > max_bytes:
            raise OutboundError("too-large", f"answer is over the {max_bytes}-byte cap", bytes_read=size)
        parts.append(chunk)


def _limit_next_read(raw: Any, remaining: float) -> None:
    """Make the next socket read give up at the deadline (best effort: urllib3 internals)."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # a socket already closed by the peer: the read reports it
            sock.settimeout(max(remaining, 0.001))
