"""The external model service client against a real local HTTP server.

Each mode is a way a real service misbehaves; every call must come back inside
the budget with the right fallback recorded.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from recs_data import event, profile

from tailor.recommendations import (
    CircuitBreaker,
    ExternalError,
    ExternalRecsClient,
    Hybrid,
    Popularity,
    RecommendationService,
    TTLCache,
)

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
BUDGET_MS = 250
# scheduling slack on a loaded CI machine; the budget itself is what the code enforces
SLACK_S = 0.5


class ModelServer:
    """A tiny recommendation service whose behaviour the test picks per request."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.modes: list[str] = []  # consumed first, one per request, then ``mode``
        self.requests: list[dict] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append(json.loads(self.rfile.read(length)))
                mode = server.modes.pop(0) if server.modes else server.mode
                if mode == "hang":
                    server.release.wait(10)
                    return
                if mode == "slow":
                    time.sleep(1.5)
                    mode = "ok"
                if mode == "500":
                    self._send(500, b'{"error": "boom"}')
                elif mode == "malformed":
                    self._send(200, b'{"items": [oops')
                elif mode == "wrong-shape":
                    self._send(200, b'{"products": ["pan-2"]}')
                elif mode == "unknown":
                    self._send(
                        200,
                        json.dumps(
                            {
                                "items": [
                                    {"product_id": "ghost-1"},
                                    {"product_id": "knife-1", "score": 0.5},
                                    {"product_id": "ghost-2"},
                                ]
                            }
                        ).encode(),
                    )
                elif mode == "all-unknown":
                    self._send(200, b'{"items": ["ghost-1", "ghost-2"]}')
                else:
                    self._send(
                        200,
                        json.dumps(
                            {"items": [{"product_id": "jacket-3", "score": 0.9}, "shoe-2"], "model": "test-v1"}
                        ).encode(),
                    )

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/recommend"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = ModelServer()
    yield srv
    srv.close()


@pytest.fixture
def models(interactions, catalog):
    return {"hybrid": Hybrid().fit(interactions, catalog), "popularity": Popularity().fit(interactions, catalog)}


@pytest.fixture
def make_service(server, catalog, models):
    made = []

    def make(**client_kwargs):
        client = ExternalRecsClient(server.url, **client_kwargs)
        service = RecommendationService(catalog, models, client=client, budget_ms=BUDGET_MS)
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


def timed(service, prof, **kwargs):
    start = time.monotonic()
    result = service.recommend(prof, n=3, now=NOW, **kwargs)
    elapsed = time.monotonic() - start
    assert elapsed < BUDGET_MS / 1000 + SLACK_S, f"took {elapsed * 1000:.0f} ms"
    return result


def cook(pid="u-1"):
    return profile([event("Product Viewed", "pan-1")], pid=pid)


def first(result):
    return result.attempts[0]


def test_external_answers(server, make_service):
    result = timed(make_service(), cook())
    assert result.provider == "external"
    assert [p["id"] for p in result.products][:2] == ["jacket-3", "shoe-2"]
    assert first(result)["outcome"] == "ok" and "test-v1" in first(result)["reason"]
    request = server.requests[0]
    assert request["user_id"] == "u-1" and request["slot"] == "recs" and request["n"] == 3
    assert request["history"][0]["product_id"] == "pan-1" and request["history"][0]["type"] == "view"


@pytest.mark.parametrize("mode", ["slow", "hang"])
def test_slow_or_hanging_service_times_out_inside_the_budget(server, make_service, mode):
    server.mode = mode
    result = timed(make_service(), cook())
    assert first(result)["provider"] == "external" and first(result)["outcome"] == "timeout"
    assert result.provider == "hybrid"  # the built-in model still had its reserved time
    assert result.products


def test_explicit_deadline_is_respected(server, make_service):
    server.mode = "hang"
    start = time.monotonic()
    result = make_service().recommend(cook(), n=3, now=NOW, deadline=start + 0.08)
    assert time.monotonic() - start < 0.08 + SLACK_S
    assert first(result)["outcome"] in {"timeout", "skipped"}
    assert result.provider is not None


def test_500_is_retried_once_then_falls_back(server, make_service):
    server.mode = "500"
    result = timed(make_service(), cook())
    assert first(result) == {"provider": "external", "outcome": "error", "reason": "HTTP 500"}
    assert len(server.requests) == 2  # one fast retry, no more
    assert result.provider == "hybrid"


def test_a_single_500_is_recovered_by_the_retry(server, make_service):
    server.modes = ["500"]
    result = timed(make_service(), cook())
    assert result.provider == "external" and "retried once" in first(result)["reason"]
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", ["malformed", "wrong-shape"])
def test_malformed_json_is_an_error_without_retry(server, make_service, mode):
    server.mode = mode
    result = timed(make_service(), cook())
    assert first(result)["outcome"] == "error" and "malformed response" in first(result)["reason"]
    assert len(server.requests) == 1
    assert result.provider == "hybrid"


def test_unknown_ids_are_dropped_and_recorded(server, make_service):
    server.mode = "unknown"
    result = timed(make_service(), cook())
    assert result.provider == "external"
    assert result.products[0]["id"] == "knife-1"
    assert "dropped 2 unknown product ids" in first(result)["reason"]


def test_only_unknown_ids_fall_back(server, make_service):
    server.mode = "all-unknown"
    result = timed(make_service(), cook())
    assert first(result)["outcome"] == "empty" and "unknown product ids" in first(result)["reason"]
    assert result.provider == "hybrid"


def test_connection_refused_falls_back(catalog, models):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    service = RecommendationService(catalog, models, recs_url=f"http://127.0.0.1:{port}/", budget_ms=BUDGET_MS)
    try:
        result = timed(service, cook())
    finally:
        service.close()
    assert first(result)["outcome"] == "error" and "connection failed" in first(result)["reason"]
    assert result.provider == "hybrid"


def test_circuit_opens_after_failures_and_probes_after_cooldown(server, make_service):
    clock = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=30, clock=lambda: clock[0])
    service = make_service(breaker=breaker, cache=TTLCache(ttl=0))
    server.mode = "malformed"
    for i in range(2):
        assert first(timed(service, cook(f"u-{i}")))["outcome"] == "error"
    assert breaker.state == "open"
    calls = len(server.requests)
    result = timed(service, cook("u-9"))
    assert first(result) == {"provider": "external", "outcome": "skipped", "reason": "circuit open"}
    assert len(server.requests) == calls  # the failing service was not called
    assert result.provider == "hybrid"

    clock[0] = 31.0  # cool-down over: one probe goes out
    assert breaker.state == "half_open"
    server.mode = "ok"
    result = timed(service, cook("u-10"))
    assert result.provider == "external" and breaker.state == "closed"


def test_failed_probe_reopens_the_circuit():
    clock = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=lambda: clock[0])
    breaker.record_failure()
    assert not breaker.allow()
    clock[0] = 11
    assert breaker.allow() and not breaker.allow()  # exactly one probe
    breaker.record_failure()
    assert breaker.state == "open"


def test_responses_are_cached_per_profile_slot_and_n(server, make_service):
    service = make_service()
    timed(service, cook())
    result = timed(service, cook())
    assert len(server.requests) == 1
    assert first(result)["reason"].endswith("cache")
    timed(service, cook(), slot="footer")
    assert len(server.requests) == 2


def test_ttl_cache_expires():
    clock = [0.0]
    cache = TTLCache(ttl=5, maxsize=2, clock=lambda: clock[0])
    cache.set("a", 1)
    assert cache.get("a") == 1
    clock[0] = 6
    assert cache.get("a") is None
    cache.set("a", 1), cache.set("b", 2), cache.set("c", 3)
    assert cache.get("a") is None and cache.get("c") == 3


def test_no_consent_never_calls_the_service(server, make_service):
    result = timed(make_service(), profile([event("Product Viewed", "pan-1")], consent=False))
    assert first(result) == {"provider": "external", "outcome": "skipped", "reason": "no personalization consent"}
    assert server.requests == []
    assert result.provider == "popular"


def test_client_raises_typed_errors(server):
    client = ExternalRecsClient(server.url)
    try:
        server.mode = "hang"
        with pytest.raises(ExternalError) as info:
            client.fetch({"user_id": "x"}, ("x", "recs", 3), time.monotonic() + 0.05)
        assert info.value.outcome == "timeout"
        with pytest.raises(ExternalError) as info:
            client.fetch({"user_id": "x"}, ("x", "recs", 3), time.monotonic())
        assert info.value.outcome == "skipped"
    finally:
        client.close()
