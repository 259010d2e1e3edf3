"""The send-time API through a real HTTP server: render, auth, errors, idempotency, ops endpoints."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from tailor import Tailor
from tailor.client import SIGNATURE_HEADER, sign, signed_request
from tailor.config import Settings
from tailor.web import create_app

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"
PERSONAS = ROOT / "fixtures" / "personas"


def persona(name: str) -> dict:
    return json.loads((PERSONAS / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def shop_tailor():
    from tailor.recommendations import RecommendationService
    from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file

    catalog = read_catalog_file(ROOT / "fixtures" / "catalog.csv")
    models = fit_models(read_events_file(ROOT / "fixtures" / "events.jsonl"), catalog)
    settings = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url="")
    return Tailor(
        ROOT / "templates", ROOT / "rules", None, settings=settings, recommender=RecommendationService(catalog, models)
    )


def make_url(serve, shop_tailor, **settings):
    base = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url="").with_values(**settings)
    return serve(create_app(base, tailor=shop_tailor))


@pytest.fixture
def url(serve, shop_tailor):
    return make_url(serve, shop_tailor)


def render_body(**extra):
    return {"template": "cart_abandonment", "profile": persona("cart-abandoner"), "at": AT, **extra}


def test_render_returns_the_contract(url):
    r = requests.post(f"{url}/v1/render", json=render_body(), timeout=10)
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) >= {
        "subject",
        "preheader",
        "html",
        "text",
        "template_version",
        "decisions",
        "fallbacks",
        "experiments",
    }
    assert "COMEBACK10" in data["html"] and "COMEBACK10" in data["text"]
    assert r.headers["X-Request-Id"]


@pytest.mark.parametrize(
    "body,status,kind,pointer",
    [
        (b'{"template": "welcome", ', 400, "malformed-json", None),
        (b"[1, 2]", 400, "invalid-input", "/"),
        (b'{"template": 42, "profile": {}}', 400, "invalid-input", "/template"),
        (b'{"template": "welcome", "recipient": "ann"}', 400, "invalid-input", "/recipient"),
        (b'{"template": "welcome", "recipient": {"id": 7}}', 400, "invalid-input", "/recipient/id"),
        (b'{"template": "welcome", "profile": {"traits": []}}', 400, "invalid-input", "/profile/traits"),
        (b'{"template": "welcome", "profile": {}, "bogus": 1}', 400, "invalid-input", "/bogus"),
        (b'{"template": "welcome", "profile": {}, "at": "soon"}', 400, "invalid-input", "/at"),
        (b'{"template": "welcome", "profile": {}, "explain": "yes"}', 400, "invalid-input", "/explain"),
        (b'{"template": "nope", "profile": {}}', 404, "unknown-template", None),
        (b'{"template": "welcome", "profile": {"id": "x", "traits": {}}}', 422, "aborted", None),
    ],
)
def test_errors_are_problem_json(url, body, status, kind, pointer):
    r = requests.post(f"{url}/v1/render", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    problem = r.json()
    assert (
        problem["type"].endswith("/" + kind) and problem["status"] == status and problem["title"] and problem["detail"]
    )
    if pointer:
        assert problem["pointer"] == pointer
    assert "Traceback" not in r.text


def test_abort_says_why(url):
    r = requests.post(f"{url}/v1/render", json={"template": "welcome", "profile": {"id": "x"}, "at": AT}, timeout=10)
    assert r.status_code == 422 and r.json()["reason"] == "the recipient has no email address"


def test_not_json_and_too_large_and_wrong_method(url):
    r = requests.post(
        f"{url}/v1/render",
        data="template=welcome",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert r.status_code == 415 and r.headers["Content-Type"] == "application/problem+json"
    r = requests.post(
        f"{url}/v1/render",
        data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 413 and r.json()["type"].endswith("/body-too-large")
    r = requests.get(f"{url}/v1/render", timeout=10)
    assert r.status_code == 405 and r.headers["Content-Type"] == "application/problem+json"
    r = requests.get(f"{url}/nowhere", timeout=10)
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json"


def test_why_a_rule_did_not_match_is_in_the_answer_only_when_asked(url):
    def not_matched(data):
        slots = [d for d in data["decisions"] if "slot" in d]
        return {(d["slot"], r["id"]): r for d in slots for r in d["rules"] if r["matched"] is False}

    body = {"template": "newsletter", "profile": persona("lapsed-customer"), "at": AT}
    send = requests.post(f"{url}/v1/render", json=body, timeout=10).json()
    explained = requests.post(f"{url}/v1/render", json={**body, "explain": True}, timeout=10).json()
    assert send["html"] == explained["html"] and send["blocks"] == explained["blocks"]
    assert not_matched(send) and not_matched(send).keys() == not_matched(explained).keys()
    assert all("failed" in r for r in not_matched(explained).values())
    assert not any("failed" in r or "values" in r for r in not_matched(send).values())


def test_same_send_id_same_answer(url):
    first = requests.post(f"{url}/v1/render", json=render_body(send_id="s-1"), timeout=10).json()
    second = requests.post(f"{url}/v1/render", json=render_body(send_id="s-1"), timeout=10).json()
    assert first == second
    metrics = requests.get(f"{url}/metrics", timeout=10).text
    renders = [
        line
        for line in metrics.splitlines()
        if line.startswith("tailor_render_seconds_count") and "cart_abandonment" in line
    ]
    assert renders and float(renders[0].rsplit(" ", 1)[1]) == 1.0, "the repeat was served from the send cache"


SECRET = "s3cret-current"


@pytest.fixture
def signed_url(serve, shop_tailor):
    return make_url(serve, shop_tailor, secret=f"{SECRET},s3cret-previous", api_tokens="tok-braze")


def test_signed_request_accepted(signed_url):
    body, headers = signed_request(render_body(), SECRET)
    assert requests.post(f"{signed_url}/v1/render", data=body, headers=headers, timeout=10).status_code == 200
    body, headers = signed_request(render_body(), "s3cret-previous")  # rotation: the old secret still works
    assert requests.post(f"{signed_url}/v1/render", data=body, headers=headers, timeout=10).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "garbage",
        "t=abc,v1=00",
        sign(b"{}", SECRET, method="POST", path="/v1/render"),  # signature of another body
        sign(json.dumps(render_body()).encode(), SECRET, method="POST", path="/v1/render?x=1"),  # another query
        sign(json.dumps(render_body()).encode(), SECRET, method="PUT", path="/v1/render"),  # another method
    ],
)
def test_bad_signatures_rejected(signed_url, header):
    body = json.dumps(render_body()).encode()
    headers = {"Content-Type": "application/json"}
    if header:
        headers[SIGNATURE_HEADER] = header
    r = requests.post(f"{signed_url}/v1/render", data=body, headers=headers, timeout=10)
    assert r.status_code == 401 and r.json()["type"].endswith("/unauthorized")


def test_expired_signature_rejected(signed_url):
    body = json.dumps(render_body()).encode()
    old = sign(body, SECRET, timestamp=int(time.time()) - 301, method="POST", path="/v1/render")
    r = requests.post(
        f"{signed_url}/v1/render",
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: old},
        timeout=10,
    )
    assert r.status_code == 401 and "tolerance" in r.json()["detail"]


def test_static_token_as_bearer_or_basic_user(signed_url):
    assert (
        requests.post(
            f"{signed_url}/v1/render", json=render_body(), headers={"Authorization": "Bearer tok-braze"}, timeout=10
        ).status_code
        == 200
    )
    assert (
        requests.post(f"{signed_url}/v1/render", json=render_body(), auth=("tok-braze", ""), timeout=10).status_code
        == 200
    )
    assert (
        requests.post(
            f"{signed_url}/v1/render", json=render_body(), headers={"Authorization": "Bearer nope"}, timeout=10
        ).status_code
        == 401
    )


def test_a_server_that_would_listen_beyond_loopback_without_credentials_is_refused(shop_tailor):
    from tailor.config import ConfigError

    settings = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url="")
    for host in ("0.0.0.0", "::", "", "192.0.2.2"):
        with pytest.raises(ConfigError, match="refusing to listen"):
            create_app(settings, tailor=shop_tailor, bind_host=host)
    create_app(settings.with_values(api_tokens="t"), tailor=shop_tailor, bind_host="0.0.0.0")


def test_healthz_metrics_openapi(url):
    health = requests.get(f"{url}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["templates"]["newsletter"] == "ok" and health.json()["rules"] == "ok"
    requests.post(f"{url}/v1/render", json=render_body(), timeout=10)
    metrics = requests.get(f"{url}/metrics", timeout=10).text
    assert "tailor_render_seconds_bucket" in metrics
    assert 'tailor_rule_hits_total{rule="cart-reminder",slot="hero"}' in metrics
    from openapi_spec_validator import validate

    doc = requests.get(f"{url}/openapi.json", timeout=10).json()
    validate(doc)
    assert {"/v1/render", "/v1/content/{template}/{slot}", "/healthz", "/metrics"} <= set(doc["paths"])


def test_logs_are_json_without_pii(url, capfd):
    requests.post(f"{url}/v1/render", json=render_body(), timeout=10)
    requests.post(
        f"{url}/v1/render",
        json={"template": "welcome", "profile": {"id": "x", "email": "zed@example.com"}, "at": AT},
        timeout=10,
    )
    err = capfd.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line.get("endpoint") == "/v1/render" and line.get("template") == "cart_abandonment" for line in lines)
    doc = persona("cart-abandoner")
    for secret in (doc["email"], doc["traits"]["first_name"], "zed@example.com"):
        assert secret not in err
