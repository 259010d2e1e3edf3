"""The Segment-compatible HTTP endpoints, through a real server and the official Python library."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from flask import Flask
from store_helpers import identify, table_counts, track
from werkzeug.serving import make_server

from tailor.config import Settings
from tailor.store import Store
from tailor.web.ingest import create_ingest_blueprint

WRITE_KEY = "wk_test_123"


@pytest.fixture
def server(store: Store) -> Iterator[str]:
    app = Flask("ingest-test")
    app.register_blueprint(create_ingest_blueprint(store, Settings().with_values(write_keys=[WRITE_KEY])))
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=5)


def _client(url: str, **options):
    from segment.analytics import Client

    return Client(WRITE_KEY, host=url, sync_mode=True, max_retries=1, **options)


def _send_shop_session(client) -> None:
    # a second apart: the server corrects each call's time by its own send delay (Segment's
    # clock-skew rule), so equal times would come out in network-jitter order
    start = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    at = iter(start + timedelta(seconds=s) for s in range(10))
    client.page(
        anonymous_id="anon-7", name="Shoes", properties={"path": "/c/shoes"}, timestamp=next(at), message_id="p1"
    )
    client.track(
        anonymous_id="anon-7",
        event="Product Viewed",
        properties={"product_id": "sku-1", "price": 49.0},
        timestamp=next(at),
        message_id="t1",
    )
    client.identify(
        user_id="u-7",
        anonymous_id="anon-7",
        traits={"email": "Zoe@Example.com", "first_name": "Zoe"},
        timestamp=next(at),
        message_id="i1",
    )
    client.track(
        user_id="u-7",
        event="Order Completed",
        properties={"order_id": "o1", "products": [{"product_id": "sku-1"}]},
        timestamp=next(at),
        message_id="t2",
    )
    client.alias(previous_id="anon-7", user_id="u-7", timestamp=next(at), message_id="a1")
    client.flush()


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
def test_official_client_twice_stores_once(store: Store, server: str, use_gzip: bool) -> None:
    errors: list = []
    for _ in range(2):
        client = _client(server, gzip=use_gzip, on_error=lambda exc, batch: errors.append(exc))
        _send_shop_session(client)  # sync mode: each call is one POST /v1/batch (no consumer thread to shut down)
    assert errors == []
    doc = store.load_profile(email="zoe@example.com")
    assert doc["id"] == "u-7"
    assert [e["messageId"] for e in doc["events"]] == ["p1", "t1", "i1", "t2", "a1"]
    assert table_counts(store)["events"] == 5


def test_official_client_batches_many_events(store: Store, server: str) -> None:
    from segment.analytics import Client

    client = Client(WRITE_KEY, host=server, upload_size=50, max_retries=3)  # background thread, batches of 50
    for i in range(180):
        client.track(
            user_id=f"u-{i % 9}", event="Product Viewed", properties={"product_id": f"sku-{i}"}, message_id=f"m{i}"
        )
    client.flush()
    client.shutdown()
    assert table_counts(store)["events"] == 180


def test_write_key_as_basic_auth_or_body(store: Store, server: str) -> None:
    basic = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    r = requests.post(f"{server}/v1/track", json=track("b1"), headers={"Authorization": basic})
    assert r.status_code == 200 and r.json() == {"success": True}
    r = requests.post(
        f"{server}/v1/identify",
        json={"userId": "u-1", "traits": {"city": "Lyon"}, "messageId": "b2", "writeKey": WRITE_KEY},
    )
    assert r.status_code == 200
    assert store.load_profile(id="u-1")["traits"] == {"city": "Lyon"}
    for headers, body in (
        ({}, track("b3")),
        ({"Authorization": "Basic " + base64.b64encode(b"wrong:").decode()}, track("b3")),
        ({}, {**track("b3"), "writeKey": "nope"}),
    ):
        r = requests.post(f"{server}/v1/track", json=body, headers=headers)
        assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
    assert table_counts(store)["events"] == 2


def _post(server: str, path: str, body, **kwargs) -> requests.Response:
    return requests.post(
        f"{server}{path}",
        data=body if isinstance(body, (bytes, str)) else json.dumps(body),
        headers={"Content-Type": "application/json", **kwargs.pop("headers", {})},
        auth=(WRITE_KEY, ""),
        **kwargs,
    )


def test_malformed_messages_get_a_problem_with_a_pointer(store: Store, server: str) -> None:
    cases = [
        ("/v1/track", {"userId": "u", "messageId": "x"}, "/event"),
        ("/v1/track", {"event": "x"}, "/userId"),
        ("/v1/track", {"type": "identify", "userId": "u", "event": "x"}, "/type"),
        ("/v1/identify", {"userId": "u", "traits": []}, "/traits"),
        (
            "/v1/batch",
            {"batch": [track("ok"), {"type": "track", "userId": "u", "event": "x", "timestamp": "soon"}]},
            "/batch/1/timestamp",
        ),
        ("/v1/batch", {"batch": {"type": "track"}}, "/batch"),
        ("/v1/batch", [1, 2], ""),
        ("/v1/batch", b"{not json", ""),
    ]
    for path, body, pointer in cases:
        r = _post(server, path, body)
        assert r.status_code == 400, (path, body)
        assert r.headers["Content-Type"] == "application/problem+json"
        problem = r.json()
        assert (
            problem["status"] == 400
            and problem["type"].startswith("https://")
            and problem["title"]
            and "detail" in problem
        )
        assert problem["pointer"] == pointer, (path, body, problem)
    assert table_counts(store)["events"] == 0  # the batch with one bad message stored nothing


def test_nul_anywhere_is_a_400_with_a_pointer_and_stores_nothing(store: Store, server: str) -> None:
    # each was a 500: PostgreSQL refuses NUL in text and jsonb (DataError), and on SQLite a
    # profile id holding one was not found again, so a second call inserted it twice
    assert _post(server, "/v1/track", track("first", user="a\u0000b")).status_code == 400
    before = table_counts(store)
    cases = [
        ("/v1/identify", identify("n1", user="a\u0000b"), "/userId"),
        ("/v1/track", track("n2", note="x\u0000y"), "/properties/note"),
        ("/v1/identify", identify("n3", user="u-1", **{"k\u0000": 1}), "/traits"),
        ("/v1/batch", {"batch": [track("ok"), track("n4\u0000")]}, "/batch/1/messageId"),
    ]
    for path, body, pointer in cases:
        r = _post(server, path, body)
        assert r.status_code == 400 and r.headers["Content-Type"] == "application/problem+json", (path, r.text)
        assert r.json()["pointer"] == pointer and "NUL" in r.json()["detail"], (path, r.json())
    assert table_counts(store) == before


def test_strings_longer_than_their_column_are_a_400_and_store_nothing(store: Store, server: str) -> None:
    # PostgreSQL enforces the column lengths SQLite ignores: each was a 500 there
    cases = [
        ("/v1/track", track("l1", event="E" * 256), "/event"),
        ("/v1/page", track("l2", "P" * 256, kind="page"), "/name"),
        ("/v1/identify", identify("l3", user="u-1", locale="x" * 36), "/traits/locale"),
        ("/v1/identify", identify("l4", user="u-1", timezone="y" * 65), "/traits/timezone"),
        ("/v1/identify", identify("l5", user="u-1", email="a" * 64 + "@" + "b" * 300 + ".com"), "/traits/email"),
    ]
    for path, body, pointer in cases:
        r = _post(server, path, body)
        assert r.status_code == 400 and r.json()["pointer"] == pointer, (path, r.text)
    assert all(n == 0 for n in table_counts(store).values())
    # at the limit they are stored
    limit = [track("a1", event="E" * 255), identify("a2", user="u-1", locale="x" * 35, timezone="y" * 64)]
    assert _post(server, "/v1/batch", {"batch": limit}).status_code == 200
    assert table_counts(store)["events"] == 2


def test_size_limits(store: Store, server: str) -> None:
    big = track("big", blob="x" * (33 * 1024))
    assert _post(server, "/v1/track", big).status_code == 413
    assert _post(server, "/v1/batch", {"batch": [big]}).json()["pointer"] == "/batch/0"
    many = {"batch": [track(f"m{i}", blob="x" * 20_000) for i in range(30)]}  # ~600 KB
    r = _post(server, "/v1/batch", many)
    assert r.status_code == 413 and r.headers["Content-Type"] == "application/problem+json"
    bomb = gzip.compress(json.dumps({"batch": [track("z", blob="0" * 2_000_000)]}).encode())
    assert _post(server, "/v1/batch", bomb, headers={"Content-Encoding": "gzip"}).status_code == 413
    assert _post(server, "/v1/batch", b"\x1f\x8bnot gzip", headers={"Content-Encoding": "gzip"}).status_code == 400
    assert table_counts(store)["events"] == 0


def test_a_batch_message_limit_counts_utf8_bytes_of_its_compact_form(store: Store, server: str) -> None:
    """32 KB is the message's compact JSON in UTF-8 bytes: not characters, not the body's spacing."""
    base = len(json.dumps(track("edge", blob=""), separators=(",", ":")).encode())
    room = 32 * 1024 - base  # bytes left for the blob's value
    over = track("over", blob="é" * (room // 2 + 1))  # é is 2 bytes: one or two bytes over
    room -= len(f',"big":{2**70}')  # an integer orjson cannot hold: measured the other way, the same bytes
    fits = track("fits", blob="é" * (room // 2) + "x" * (room % 2), big=2**70)  # exactly 32 KB
    spaced = json.dumps({"batch": [fits]}, indent=4, ensure_ascii=True)  # the body's own form doesn't count
    r = _post(server, "/v1/batch", spaced)
    assert r.status_code == 200, r.text
    r = _post(server, "/v1/batch", {"batch": [track("ok"), over]})
    assert r.status_code == 413 and r.json()["pointer"] == "/batch/1"
    assert table_counts(store)["events"] == 1
    stored = store.load_profile(user_id="u-1")
    assert stored is not None and stored["events"][0]["properties"]["big"] == 2**70  # exactly, not a float


def test_without_write_keys_only_loopback_is_accepted(store: Store) -> None:
    app = Flask("open")
    app.register_blueprint(create_ingest_blueprint(store, Settings()))
    # the caller's address decides, not the interface the server listens on
    r = app.test_client().post("/v1/track", json=track("x"), environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert r.status_code == 403 and r.headers["Content-Type"] == "application/problem+json"
    assert app.test_client().post("/v1/track", json=track("x")).status_code == 200


def test_client_retry_after_a_lost_acknowledgement_stores_nothing_twice(store: Store) -> None:
    """The batch is committed but the 200 is lost (a 503 instead): the library retries."""
    from segment.analytics import Client

    app = Flask("flaky")
    app.register_blueprint(create_ingest_blueprint(store, Settings().with_values(write_keys=[WRITE_KEY])))
    calls = []

    def flaky(environ, start_response):
        calls.append(1)
        if len(calls) == 1:
            body = b"".join(app(environ, lambda *a, **k: None))  # the store commits...
            assert b"success" in body
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"gateway lost the answer"]  # ...but the client never hears of it
        return app(environ, start_response)

    http = make_server("127.0.0.1", 0, flaky, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        # the consumer thread retries (sync mode posts once and raises)
        client = Client(WRITE_KEY, host=f"http://127.0.0.1:{http.server_port}", max_retries=3)
        client.track(user_id="u-1", event="Order Completed", properties={"order_id": "o1"}, message_id="once")
        client.flush()
        client.shutdown()
    finally:
        http.shutdown()
        thread.join(timeout=5)
    assert len(calls) == 2
    assert table_counts(store)["events"] == 1
