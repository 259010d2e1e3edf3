"""Property-based fuzzing of the HTTP edges against a real server.

Whatever a caller sends to the render, content and ingestion endpoints, the answer is
never a 500, always valid JSON (problem+json for errors) in valid UTF-8, and never
carries a traceback. Strategies mix well-formed requests (so the render path itself is
exercised) with hostile ones (NaN, deep nesting, lone surrogates, odd types and dates).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from live_server import LiveServer
from tailor.config import Settings
from tailor.web import create_app

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)


@pytest.fixture(scope="module")
def url(shop_db, tmp_path_factory):
    target = tmp_path_factory.mktemp("fuzz-shop") / "shop.db"
    shutil.copyfile(Path(shop_db.removeprefix("sqlite:///")), target)
    app = create_app(Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=f"sqlite:///{target}"))
    server = LiveServer(app).start()
    yield server.url
    server.stop()


def _strict_json(raw: bytes) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"{name} in the answer: not JSON")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


def check(r: requests.Response) -> None:
    assert r.status_code < 500, r.text[:500]
    assert r.headers["Content-Type"] in ("application/json", "application/problem+json"), r.headers["Content-Type"]
    body = _strict_json(r.content)
    assert "Traceback" not in r.text
    if r.status_code >= 400:
        assert r.headers["Content-Type"] == "application/problem+json"
        assert isinstance(body, dict) and body["status"] == r.status_code and body["title"]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "2026-11-23T12:00:00Z", "soon", ""]),
    st.text(max_size=30),
)
templates = st.sampled_from(["newsletter", "welcome", "cart_abandonment", "nope", "../etc/passwd", ""]) | st.text(
    max_size=20
)
recipients = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["u-00001", "u-00002", "nobody"]) | json_values,
        "email": st.sampled_from(["martina.perez@example.org", "x@"]) | json_values,
        "traits": json_values | st.dictionaries(st.text(max_size=12), json_values, max_size=5),
    },
)
render_bodies = st.fixed_dictionaries(
    {"template": templates | json_values},
    optional={
        "recipient": recipients | json_values,
        "profile": st.fixed_dictionaries(
            {"id": st.text(max_size=8)}, optional={"email": st.emails(), "traits": json_values}
        )
        | json_values,
        "context": json_values,
        "at": dates | json_values,
        "send_id": st.text(max_size=10) | json_values,
    },
)
#: raw bytes that are almost JSON: the strict parser's cases
hostile_raw = st.sampled_from(
    [
        b'{"template": "newsletter", "recipient": {"id": "u-00001"}, "context": {"x": NaN}}',
        b'{"template": "newsletter", "recipient": {"id": "\\ud800"}}',
        b'{"template": "newsletter", "context": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        b'{"template": "newsletter", "recipient": {"id": "u-00001"}, "at": 1e999}',
        b"\x00\xff",
        b"",
        b"null",
    ]
) | st.binary(max_size=200)


@FUZZ
@given(body=render_bodies)
def test_render_bodies(url, body):
    check(requests.post(f"{url}/v1/render", json=body, timeout=30))


@FUZZ
@given(raw=hostile_raw)
def test_render_raw_bytes(url, raw):
    check(requests.post(f"{url}/v1/render", data=raw, headers={"Content-Type": "application/json"}, timeout=30))


@FUZZ
@given(
    template=templates,
    slot=st.sampled_from(["hero", "recs", "footer_offer"]) | st.text(min_size=1, max_size=12),
    recipient=st.sampled_from(["u-00001", "martina.perez@example.org", ""]) | st.text(max_size=20),
    at=dates,
    extra=st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=10), max_size=3),
)
def test_content_queries(url, template, slot, recipient, at, extra):
    path = f"/v1/content/{quote(template or 'x', safe='')}/{quote(slot, safe='')}"
    params = {"recipient": recipient, "at": at, **extra}
    r = requests.get(f"{url}{path}", params=params, timeout=30, allow_redirects=False)
    if r.status_code in (301, 302, 307, 308):  # a path Werkzeug normalizes: redirected, not an error
        return
    check(r)


segment_messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["track", "identify", "page", "alias"]) | json_values,
        "userId": st.text(max_size=10) | json_values,
        "anonymousId": st.text(max_size=10) | json_values,
        "event": st.sampled_from(["Product Viewed", "Order Completed"]) | json_values,
        "messageId": st.text(max_size=10) | json_values,
        "timestamp": dates | json_values,
        "properties": json_values,
        "traits": json_values,
        "context": json_values,
    },
)


@FUZZ
@given(kind=st.sampled_from(["track", "identify", "batch"]), message=segment_messages, raw=hostile_raw | st.none())
def test_ingestion_bodies(url, kind, message, raw):
    if raw is not None:
        r = requests.post(f"{url}/v1/{kind}", data=raw, headers={"Content-Type": "application/json"}, timeout=30)
    else:
        body = {"batch": [message, message]} if kind == "batch" else message
        r = requests.post(f"{url}/v1/{kind}", json=body, timeout=30)
    check(r)
