"""Client for an external recommendation service (``TAILOR_RECS_URL``).

The contract (request/response JSON) is in docs/recommendations.md. The client never
takes longer than the deadline it is given: the HTTP call runs on a small worker
pool and the caller waits at most until the deadline, whatever the server does; the
worker itself stops reading at the same deadline or at ``max_bytes`` of answer
(:mod:`tailor.outbound`), so a slow or huge answer neither holds a worker nor its memory.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from tailor import outbound
from tailor.caches import TTLCache


class CircuitBreaker:
    """Closed → (``failure_threshold`` failures in a row) → open → (``reset_timeout``) → half-open.

    Half-open lets exactly one probe through: success closes the circuit, failure
    opens it for another ``reset_timeout``. Thread-safe.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_timeout:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """May a call go out now? In half-open state only the first caller gets ``True``."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._probing:
                self._probing = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def release(self) -> None:
        """Give back a half-open probe that was never sent."""
        with self._lock:
            self._probing = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probing or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._probing = False


class ExternalError(Exception):
    """The service did not give a usable answer; ``outcome`` is ``timeout``, ``error`` or ``skipped``."""

    def __init__(self, outcome: str, reason: str):
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


class _Retryable(Exception):
    """A fast failure worth one more try (connection refused/reset, HTTP 5xx)."""


@dataclass
class ExternalAnswer:
    """Ranked ``(product_id, score)`` pairs from the service."""

    items: list[tuple[str, float]]
    model: str | None = None
    cached: bool = False
    tries: int = 1


def parse_response(body: bytes) -> tuple[list[tuple[str, float]], str | None]:
    """Validate the response JSON; raises ``ValueError`` when it breaks the contract."""
    data = json.loads(body)
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        raise ValueError("response must be an object with an 'items' list")
    items: list[tuple[str, float]] = []
    count = len(data["items"])
    for rank, entry in enumerate(data["items"]):
        # the list order is the ranking; scores are optional and only checked, so a
        # service's own score scale never fights with its order
        if isinstance(entry, (str, int)) and not isinstance(entry, bool):
            pid = str(entry)
        elif isinstance(entry, Mapping) and entry.get("product_id") not in (None, ""):
            score = entry.get("score", 0.0)
            if not isinstance(score, (int, float)) or isinstance(score, bool):
                raise ValueError("score must be a number")
            pid = str(entry["product_id"])
        else:
            raise ValueError("each item must be a product id or an object with product_id")
        items.append((pid, float(count - rank)))
    model = data.get("model")
    return items, None if model is None else str(model)


class ExternalRecsClient:
    """POSTs the request JSON to ``url``; one pooled session, breaker and cache per client.

    ``min_call_ms``: a (re)try is not started with less time than this left.
    ``max_bytes``: a longer answer fails the call (``outbound_max_bytes``).
    """

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session | None = None,
        breaker: CircuitBreaker | None = None,
        cache: TTLCache | None = None,
        headers: Mapping[str, str] | None = None,
        max_workers: int = 8,
        min_call_ms: float = 10.0,
        max_bytes: int = outbound.DEFAULT_MAX_BYTES,
    ) -> None:
        self.url = url
        self.max_bytes = max_bytes
        self.breaker = breaker or CircuitBreaker()
        self.cache = cache if cache is not None else TTLCache(ttl=60.0)
        self.min_call_ms = min_call_ms
        self.session = session or requests.Session()
        if session is None:
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max_workers, max_retries=0)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self.session.headers.update({"Content-Type": "application/json", "Accept": "application/json"})
        self.session.headers.update(dict(headers or {}))
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tailor-recs")

    def fetch(self, payload: Mapping[str, Any], cache_key: Hashable, deadline: float) -> ExternalAnswer:
        """Recommendations for ``payload``, answered before ``deadline`` (``time.monotonic()``).

        Raises :class:`ExternalError` on timeout, error or an open circuit.
        """
        cached = self.cache.get(cache_key)
        if cached is not None:
            items, model = cached
            return ExternalAnswer(items=list(items), model=model, cached=True, tries=0)
        if not self.breaker.allow():
            raise ExternalError("skipped", "circuit open")
        body = json.dumps(payload, default=str, separators=(",", ":")).encode()
        tries = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining * 1000 < self.min_call_ms:
                if tries:
                    self.breaker.record_failure()
                    raise ExternalError("error", "failed and no time left to retry")
                self.breaker.release()
                raise ExternalError("skipped", "no time left in the budget")
            tries += 1
            try:
                items, model = self._call(body, remaining)
            except _Retryable as exc:
                if tries < 2 and (deadline - time.monotonic()) * 1000 >= self.min_call_ms:
                    continue  # one fast retry
                self.breaker.record_failure()
                raise ExternalError("error", str(exc)) from None
            except ExternalError:
                self.breaker.record_failure()
                raise
            self.breaker.record_success()
            self.cache.set(cache_key, (tuple(items), model))
            return ExternalAnswer(items=items, model=model, tries=tries)

    def _call(self, body: bytes, remaining: float) -> tuple[list[tuple[str, float]], str | None]:
        # the socket timeouts free the worker soon after; result(timeout=) bounds the caller
        future = self._pool.submit(self._post, body, remaining)
        try:
            return future.result(timeout=remaining)
        except FutureTimeout:
            future.cancel()
            raise ExternalError("timeout", f"no answer within {remaining * 1000:.0f} ms") from None

    def _post(self, body: bytes, timeout: float) -> tuple[list[tuple[str, float]], str | None]:
        try:
            response = outbound.post(
                self.session, self.url, data=body, deadline=time.monotonic() + timeout, max_bytes=self.max_bytes
            )
        except outbound.OutboundError as exc:
            if exc.kind == "connection":
                raise _Retryable(exc.reason) from None
            # over the deadline or over the byte cap: a failure the breaker counts, then the fallbacks
            raise ExternalError("timeout" if exc.kind == "timeout" else "error", exc.reason) from None
        if response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise ExternalError("error", f"HTTP {response.status_code}")
        try:
            return parse_response(response.content)
        except (ValueError, TypeError, RecursionError) as exc:
            raise ExternalError("error", f"malformed response: {exc}") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.session.close()
