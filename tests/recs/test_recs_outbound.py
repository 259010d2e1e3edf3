"""Outbound calls against hostile real HTTP servers: huge, endless and trickling answers.

The helper (:mod:`tailor.outbound`) must stop at the byte cap and at the total
deadline, and say how much it read; the recommendation client and the trigger
notifier must turn that into their failure paths (fallback recorded, retry).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from recs_data import event, profile

from tailor import outbound
from tailor.recommendations import ExternalRecsClient, Popularity, RecommendationService
from tailor.triggers.scan import Delivery, post

CAP = 64 * 1024
# scheduling slack on a loaded CI machine: the deadline is what the code enforces
SLACK_S = 1.0


class HostileHandler(BaseHTTPRequestHandler):
    """Serves the mode its :class:`HostileServer` is in."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    @property
    def hostile(self) -> HostileServer:
        return self.server.hostile  # type: ignore[attr-defined]

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        # the client hanging up mid-answer is exactly what it should do
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            getattr(self, "_" + self.hostile.mode.replace("-", "_"))()

    def _chunks(self) -> Iterator[bytes]:
        block = b"x" * 65536  # one block, sent again and again: nothing big is allocated
        while not self.hostile.stop.is_set():
            yield block

    def _huge(self):
        # 200 MB announced and streamed lazily
        total = 200 * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        self._stream(total)

    def _huge_unannounced(self):
        # no Content-Length: the body ends when the connection closes
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self._stream(200 * 1024 * 1024)

    def _huge_chunked(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for block in self._chunks():
            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            self.hostile.sent += len(block)
            if self.hostile.sent >= 200 * 1024 * 1024:
                break
        self.wfile.write(b"0\r\n\r\n")

    def _stream(self, total: int) -> None:
        for block in self._chunks():
            self.wfile.write(block)
            self.hostile.sent += len(block)
            if self.hostile.sent >= total:
                break

    def _trickle(self):
        # a valid-looking answer, one byte a second: every socket read succeeds
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):
            if self.hostile.stop.wait(0.2):
                return
            self.wfile.write(b" ")
            self.wfile.flush()
            self.hostile.sent += 1

    def _gzip(self):
        body = b"\x1f\x8b" + b"\0" * 30
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _ok(self):
        body = b'{"items": ["jacket-3", "shoe-2"]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class HostileServer:
    """Answers POSTs according to ``mode``; counts the bytes it managed to send."""

    def __init__(self) -> None:
        self.mode = "huge"
        self.sent = 0
        self.stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), HostileHandler)
        self.httpd.hostile = self  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile():
    srv = HostileServer()
    yield srv
    srv.close()


def call(url: str, *, seconds: float = 2.0, cap: int = CAP) -> outbound.OutboundResponse:
    with requests.Session() as session:
        return outbound.post(session, url, data=b"{}", deadline=time.monotonic() + seconds, max_bytes=cap)


def test_a_small_answer_is_read_whole(hostile):
    hostile.mode = "ok"
    response = call(hostile.url)
    assert response.status_code == 200 and response.content == b'{"items": ["jacket-3", "shoe-2"]}'


@pytest.mark.parametrize("mode", ["huge-unannounced", "huge-chunked"])
def test_a_200_mb_stream_is_cut_at_the_cap(hostile, mode):
    hostile.mode = mode
    with pytest.raises(outbound.OutboundError) as caught:
        call(hostile.url, seconds=20)
    assert caught.value.kind == "too-large"
    # what the worker held: the cap and the one byte that proved it was passed
    assert CAP < caught.value.bytes_read <= CAP + 1
    assert hostile.sent < 50 * 1024 * 1024  # it hung up; the server did not get to send 200 MB


def test_an_announced_huge_answer_is_refused_before_reading(hostile):
    hostile.mode = "huge"
    with pytest.raises(outbound.OutboundError) as caught:
        call(hostile.url)
    assert caught.value.kind == "too-large" and caught.value.bytes_read == 0


def test_a_trickling_answer_is_cut_at_the_deadline(hostile):
    hostile.mode = "trickle"
    start = time.monotonic()
    with pytest.raises(outbound.OutboundError) as caught:
        call(hostile.url, seconds=1.0)
    assert time.monotonic() - start < 1.0 + SLACK_S
    assert caught.value.kind == "timeout"
    assert 0 < caught.value.bytes_read < 1000  # it was reading, and stopped


def test_a_compressed_answer_is_refused(hostile):
    hostile.mode = "gzip"
    with pytest.raises(outbound.OutboundError) as caught:
        call(hostile.url)
    assert caught.value.kind == "too-large"


def test_no_time_left_makes_no_call(hostile):
    hostile.mode = "ok"
    with pytest.raises(outbound.OutboundError) as caught:
        call(hostile.url, seconds=-1)
    assert caught.value.kind == "timeout" and hostile.sent == 0


# -- the recommendation client --------------------------------------------------------


@pytest.fixture
def service(hostile, catalog, interactions):
    client = ExternalRecsClient(hostile.url, max_bytes=CAP)
    svc = RecommendationService(
        catalog, {"popularity": Popularity().fit(interactions, catalog)}, client=client, budget_ms=400
    )
    yield svc, client
    svc.close()


@pytest.mark.parametrize("mode", ["huge-unannounced", "huge-chunked", "trickle"])
def test_recs_fall_back_on_a_huge_or_trickling_answer(hostile, service, mode):
    svc, client = service
    hostile.mode = mode
    start = time.monotonic()
    result = svc.recommend(profile([event("Product Viewed", "pan-1")], pid="u-1"), n=3)
    assert time.monotonic() - start < 0.4 + SLACK_S
    attempt = result.attempts[0]
    assert attempt["provider"] == "external" and attempt["outcome"] in {"error", "timeout"}
    assert result.provider != "external" and result.products  # a built-in fallback answered
    assert client.breaker._failures == 1  # the breaker counted it
    # the worker thread gives up too (not only the caller): the server is cut off soon
    before = hostile.sent
    time.sleep(0.5)
    assert hostile.sent - before <= 2 * outbound.READ_SIZE + 65536


def test_recs_use_the_configured_cap(tmp_path, hostile):
    from tailor.config import Settings

    settings = Settings(recs_url=hostile.url, rules=tmp_path, artifacts=tmp_path).with_values(outbound_max_bytes="4096")
    svc = RecommendationService.from_store(None, [], settings=settings)
    try:
        assert svc.client is not None and svc.client.max_bytes == 4096
    finally:
        svc.close()


# -- trigger notifications --------------------------------------------------------------


def test_a_notification_answered_with_a_huge_body_is_a_failed_attempt(hostile):
    hostile.mode = "huge-chunked"
    delivery = Delivery(hostile.url, retries=1, timeout=5.0, backoff=0.0, max_bytes=CAP, sleep=lambda s: None)
    acknowledged, attempts, error = post(delivery, {"profile_id": "u-1"}, "key-1")
    assert not acknowledged and attempts == 2  # retried, then left pending for the next scan
    assert error is not None and error.startswith("too-large")


def test_a_trickling_notification_receiver_is_cut_at_the_timeout(hostile):
    hostile.mode = "trickle"
    delivery = Delivery(hostile.url, retries=0, timeout=1.0, sleep=lambda s: None)
    start = time.monotonic()
    acknowledged, attempts, error = post(delivery, {"profile_id": "u-1"}, "key-1")
    assert time.monotonic() - start < 1.0 + SLACK_S
    assert not acknowledged and error is not None and error.startswith("timeout")
