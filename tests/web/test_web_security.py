"""Safe on a network: one authentication policy, the caller's address, bound signatures, clean edges.

Every test goes through a real HTTP server. A caller "from the network" is played by
binding the same app to this machine's LAN address and calling it there: the server
sees a non-loopback peer, nothing is faked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from live_server import LiveServer, lan_address
from tailor.client import SIGNATURE_HEADER, sign, signed_headers, signed_request
from tailor.config import Settings
from tailor.web import create_app

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"
SECRET = "sec-current"
TOKEN = "tok-studio-and-braze"
WRITE_KEY = "wk-server"
LAN = lan_address()
needs_lan = pytest.mark.skipif(LAN is None, reason="this machine has no non-loopback IPv4 address to call from")


def persona(name: str) -> dict:
    return json.loads((ROOT / "fixtures" / "personas" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def shop_copy(shop_db, tmp_path_factory) -> str:
    """A private copy of the example shop (these tests write exposures, events and erasures)."""
    source = Path(shop_db.removeprefix("sqlite:///"))
    target = tmp_path_factory.mktemp("security-shop") / "shop.db"
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


def _app(database_url: str, **values):
    settings = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=database_url).with_values(
        **values
    )
    app = create_app(settings)
    app.config.update(TAILOR_PERSONAS=str(ROOT / "fixtures" / "personas"), TAILOR_PREVIEW_AT=AT)
    return app


@pytest.fixture(scope="module")
def secured(shop_copy):
    """Credentials configured: every route needs them, from loopback too."""
    server = LiveServer(_app(shop_copy, secret=f"{SECRET},sec-previous", api_tokens=TOKEN, write_keys=WRITE_KEY))
    yield server.start().url
    server.stop()


@pytest.fixture(scope="module")
def dev(shop_copy):
    """No credentials (dev mode), served on loopback and, when there is one, on the LAN address."""
    app = _app(shop_copy)
    servers = [LiveServer(app).start()] + ([LiveServer(app, host=LAN).start()] if LAN else [])
    yield [s.url for s in servers]
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def proxied(shop_copy):
    """No credentials, behind a reverse proxy on loopback that the settings trust."""
    app = _app(shop_copy, trusted_proxies="127.0.0.1/32")
    servers = [LiveServer(app).start()] + ([LiveServer(app, host=LAN).start()] if LAN else [])
    yield [s.url for s in servers]
    for s in servers:
        s.stop()


def render_body(**extra) -> dict:
    return {"template": "cart_abandonment", "profile": persona("cart-abandoner"), "at": AT, **extra}


def assert_problem(r: requests.Response, status: int) -> dict:
    assert r.status_code == status, r.text[:500]
    assert r.headers["Content-Type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and "Traceback" not in r.text
    return body


# -- the caller's address, not the bind address ----------------------------------------


@needs_lan
def test_dev_mode_serves_loopback_callers_only(dev):
    local, lan = dev
    assert requests.post(f"{local}/v1/render", json=render_body(), timeout=10).status_code == 200
    # the same server, reached from a non-loopback address: nothing personal is served
    for method, path in (
        ("POST", "/v1/render"),
        ("GET", "/v1/content/newsletter/hero?recipient=u-00001"),
        ("GET", "/v1/profiles/u-00001/export"),
        ("DELETE", "/v1/profiles/u-00001"),
        ("POST", "/v1/track"),
        ("GET", "/preview/render?template=newsletter&ref=u-00001&unmask=1"),
        ("GET", "/metrics"),
    ):
        r = requests.request(method, f"{lan}{path}", json=render_body(), timeout=10, allow_redirects=False)
        assert_problem(r, 403)
    assert requests.get(f"{lan}/healthz", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{lan}/openapi.json", timeout=10).status_code == 200


@needs_lan
def test_forwarded_for_from_an_untrusted_peer_is_ignored(dev):
    _, lan = dev
    r = requests.post(f"{lan}/v1/render", json=render_body(), headers={"X-Forwarded-For": "127.0.0.1"}, timeout=10)
    assert_problem(r, 403)


def test_forwarded_for_from_a_trusted_proxy_is_honoured(proxied):
    local = proxied[0]
    # the proxy (loopback, trusted) says the client is on the internet: refused, as that client would be
    r = requests.post(f"{local}/v1/render", json=render_body(), headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10)
    assert_problem(r, 403)
    # a client-supplied left-most entry is not believed: the right-most untrusted hop is the client
    spoofed = {"X-Forwarded-For": "127.0.0.1, 203.0.113.7"}
    assert_problem(requests.post(f"{local}/v1/render", json=render_body(), headers=spoofed, timeout=10), 403)
    # the proxy forwarding a loopback client (e.g. an admin on the proxy host)
    r = requests.post(f"{local}/v1/render", json=render_body(), headers={"X-Forwarded-For": "127.0.0.1"}, timeout=10)
    assert r.status_code == 200, r.text[:300]


@needs_lan
def test_a_peer_outside_the_trusted_proxies_cannot_forward(proxied):
    _, lan = proxied  # the LAN address is not in trusted_proxies (only 127.0.0.1/32 is)
    r = requests.post(f"{lan}/v1/render", json=render_body(), headers={"X-Forwarded-For": "127.0.0.1"}, timeout=10)
    assert_problem(r, 403)


# -- credentials configured: every route, the studio and loopback included ---------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/v1/render"),
        ("GET", "/v1/content/newsletter/hero?recipient=u-00001"),
        ("GET", "/v1/profiles/u-00001"),
        ("GET", "/v1/profiles/u-00001/export"),
        ("DELETE", "/v1/profiles/u-00001"),
        ("POST", "/v1/track"),
        ("POST", "/v1/batch"),
        ("GET", "/metrics"),
        ("GET", "/preview/api/render?template=newsletter&ref=u-00001&unmask=1"),
        ("GET", "/preview/api/version"),
    ],
)
def test_with_credentials_configured_loopback_grants_nothing(secured, method, path):
    r = requests.request(method, f"{secured}{path}", json={"type": "track"}, timeout=10)
    body = assert_problem(r, 401)
    assert body["type"].endswith("/unauthorized")


def test_an_unconfigured_esp_provider_is_disabled_even_from_loopback(secured):
    """An ESP route authenticates by its provider's own scheme: without its settings it is off, not open."""
    r = requests.post(f"{secured}/v1/esp/postmark", json={"RecordType": "Bounce"}, timeout=10)
    body = assert_problem(r, 404)
    assert body["type"].endswith("/esp-provider-not-configured") and "TAILOR_POSTMARK_PASSWORD" in body["detail"]


def test_studio_pages_send_a_browser_to_sign_in(secured):
    r = requests.get(
        f"{secured}/preview/render?template=newsletter&ref=u-00001&unmask=1", timeout=10, allow_redirects=False
    )
    assert r.status_code == 303 and r.headers["Location"].startswith("/preview/login?next=")
    assert "martina" not in r.text.lower() and "@example" not in r.text  # u-00001 is Martina Perez


def test_studio_sign_in_sets_a_strict_http_only_cookie(secured):
    browser = requests.Session()
    refused = browser.post(f"{secured}/preview/login", data={"token": "guess", "next": "/preview/"}, timeout=10)
    assert refused.status_code == 401 and not browser.cookies
    r = browser.post(
        f"{secured}/preview/login",
        data={"token": TOKEN, "next": "/preview/grid"},
        timeout=10,
        allow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["Location"] == "/preview/grid"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # plain http here
    page = browser.get(f"{secured}/preview/render?template=newsletter&persona=cart-abandoner", timeout=10)
    assert page.status_code == 200 and "tailor preview" in page.text
    api = browser.get(f"{secured}/preview/api/render?template=newsletter&persona=cart-abandoner", timeout=10)
    assert api.status_code == 200 and api.json()["ok"] is True
    browser.get(f"{secured}/preview/logout", timeout=10)
    assert browser.get(f"{secured}/preview/api/version", timeout=10).status_code == 401


def test_studio_sign_in_never_redirects_off_site(secured):
    r = requests.post(
        f"{secured}/preview/login", data={"token": TOKEN, "next": "//evil.example/"}, timeout=10, allow_redirects=False
    )
    assert r.status_code == 303 and r.headers["Location"] == "/preview/"


def test_studio_accepts_the_token_by_basic_auth(secured):
    r = requests.get(
        f"{secured}/preview/api/render?template=newsletter&persona=cart-abandoner", auth=("qa", TOKEN), timeout=10
    )
    assert r.status_code == 200 and r.json()["ok"] is True


def test_healthz_details_need_credentials(secured):
    bare = requests.get(f"{secured}/healthz", timeout=10)
    assert bare.status_code == 200 and bare.json() == {"status": "ok"}
    detailed = requests.get(f"{secured}/healthz", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
    assert detailed["templates"]["newsletter"] == "ok" and detailed["store"] == "ok"


def test_each_kind_of_credential_opens_its_routes(secured):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.post(f"{secured}/v1/render", json=render_body(), headers=bearer, timeout=10).status_code == 200
    assert requests.get(f"{secured}/metrics", headers=bearer, timeout=10).status_code == 200
    track = {"type": "track", "userId": "u-00001", "event": "Product Viewed", "messageId": "sec-1"}
    assert requests.post(f"{secured}/v1/track", json=track, auth=(WRITE_KEY, ""), timeout=10).status_code == 200
    assert requests.post(f"{secured}/v1/track", json={**track, "writeKey": WRITE_KEY}, timeout=10).status_code == 200
    # a write key is not an API token and the reverse
    assert requests.post(f"{secured}/v1/track", json=track, headers=bearer, timeout=10).status_code == 401
    wk = {"Authorization": f"Bearer {WRITE_KEY}"}
    assert requests.post(f"{secured}/v1/render", json=render_body(), headers=wk, timeout=10).status_code == 401


# -- signatures bind the method, the path and the query -----------------------------------


def test_a_signature_is_valid_for_one_request_only(secured, shop_copy):
    url = f"{secured}/v1/content/newsletter/hero?recipient=u-00001&at={AT}"
    headers = signed_headers("GET", url, SECRET)
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    # the same header (same empty body, same second) replayed elsewhere
    assert_problem(requests.get(f"{secured}/v1/profiles/u-00001/export", headers=headers, timeout=10), 401)
    assert_problem(requests.delete(f"{secured}/v1/profiles/u-00001", headers=headers, timeout=10), 401)
    assert_problem(requests.get(url.replace("u-00001", "u-00002"), headers=headers, timeout=10), 401)
    engine = create_engine(shop_copy)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from profiles where id = 'u-00001'")).scalar() == 1
    engine.dispose()
    # signed for what it is, the export is served (rotation: the previous secret too)
    export = f"{secured}/v1/profiles/u-00001/export"
    assert requests.get(export, headers=signed_headers("GET", export, "sec-previous"), timeout=10).status_code == 200


def test_signed_render_with_the_client_helper(secured):
    body, headers = signed_request(render_body(), SECRET)
    assert requests.post(f"{secured}/v1/render", data=body, headers=headers, timeout=10).status_code == 200
    stale = sign(body, SECRET, int(time.time()) - 301, method="POST", path="/v1/render")
    r = requests.post(f"{secured}/v1/render", data=body, headers={**headers, SIGNATURE_HEADER: stale}, timeout=10)
    assert "tolerance" in assert_problem(r, 401)["detail"]


# -- previews are not sends --------------------------------------------------------------


def _exposures(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("select count(*) from exposures")).scalar() or 0)
    finally:
        engine.dispose()


def test_previews_record_no_exposures(dev, shop_copy, tmp_path):
    local = dev[0]
    before = _exposures(shop_copy)
    for path in (
        "/preview/api/render?template=newsletter&persona=sparse-data",
        "/preview/render?template=newsletter&ref=u-00001",
        "/preview/grid?template=newsletter",
    ):
        assert requests.get(f"{local}{path}", timeout=30).status_code == 200
    from tailor import Tailor
    from tailor.preview.personas import load_personas
    from tailor.preview.static import build_static_preview

    settings = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=shop_copy)
    tailor = Tailor(ROOT / "templates", ROOT / "rules", shop_copy, settings=settings)
    found = load_personas(ROOT / "fixtures" / "personas")
    results = build_static_preview(tailor, {"sparse-data": found["sparse-data"]}, tmp_path / "site", at=AT)
    assert any(r.email is not None and r.email.experiments for r in results), "the persona is in an experiment"
    assert _exposures(shop_copy) == before
    # the same persona really sent is counted: the check above can fail
    sent = requests.post(
        f"{local}/v1/render",
        json={"template": "newsletter", "profile": persona("sparse-data"), "at": AT, "send_id": "sec-send"},
        timeout=30,
    )
    assert sent.status_code == 200 and sent.json()["experiments"]
    assert _exposures(shop_copy) == before + 1


# -- bad input at the edges: 4xx problem+json, never a 500, always valid JSON --------------


@pytest.mark.parametrize(
    "raw,pointer",
    [
        (b'{"template": "welcome", "profile": {"id": "x", "traits": {"score": NaN}}}', ""),
        (b'{"template": "welcome", "profile": {"id": "x", "traits": {"score": -Infinity}}}', ""),
        (b'{"template": "welcome", "context": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}", None),
        (b'{"template": "welcome", "context": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", None),
        (b'{"template": "welcome", "profile": {"id": "x", "traits": {"name": "\\ud800"}}}', "/profile/traits/name"),
        (b'{"template": "welcome", "profile": {"id": "x", "traits": {"\\udfff": 1}}}', "/profile/traits"),
        (b'{"template": "welcome", "profile": {"id": "x"}, "at": "0001-01-01T00:00:00+01:00"}', "/at"),
        (b'{"template": "welcome", "profile": {"id": "x"}, "at": "9999-12-31T23:59:59-05:00"}', "/at"),
        (b'{"template": "welcome", "profile": {"id": "x"}, "at": "9999-12-31T23:59:59Z"}', "/at"),
        (b"\xff\xfe{}", ""),
    ],
)
def test_bad_json_is_a_400_problem(dev, raw, pointer):
    r = requests.post(f"{dev[0]}/v1/render", data=raw, headers={"Content-Type": "application/json"}, timeout=10)
    body = assert_problem(r, 400)
    if pointer is not None:
        assert body.get("pointer", "") == pointer, body


def test_content_at_out_of_range_is_a_400(dev):
    r = requests.get(
        f"{dev[0]}/v1/content/newsletter/hero?recipient=u-00001&at=0001-01-01T00:00:00%2B01:00", timeout=10
    )
    assert assert_problem(r, 400)["pointer"] == "/at"


def test_ingestion_refuses_nan_and_surrogates(dev):
    for raw in (b'{"userId": "u-1", "event": "E", "properties": {"v": NaN}}', b'{"userId": "\\ud83d", "event": "E"}'):
        assert_problem(requests.post(f"{dev[0]}/v1/track", data=raw, timeout=10), 400)


@pytest.mark.parametrize(
    "method,path,status",
    [
        ("POST", "//v1/render", None),
        ("GET", "/v1/" + "a" * 20_000, 404),
        ("FOO", "/v1/render", 405),
        ("PROPFIND", "/healthz", 405),
        ("GET", "/v1/content/%ff%fe/hero?recipient=%ff", None),
        ("GET", "/v1/content/a%00b/hero?recipient=x", None),
    ],
)
def test_odd_requests_get_a_problem_not_a_500(dev, method, path, status):
    r = requests.request(method, f"{dev[0]}{path}", json=render_body(), timeout=10, allow_redirects=False)
    assert r.status_code < 500, r.text[:300]
    if status is not None:
        assert_problem(r, status)
    if r.headers.get("Content-Type", "").endswith("json"):
        json.loads(r.content.decode("utf-8"))


def test_request_ids_and_template_names_are_sanitized_in_logs(dev, capfd):
    hostile = 'x", "level": "critical", "ann@example.com'
    r = requests.post(
        f"{dev[0]}/v1/render",
        json={"template": "ann@example.com\n{}", "profile": {"id": "x"}, "at": AT},
        headers={"X-Request-Id": hostile},
        timeout=10,
    )
    assert r.status_code == 404 and r.headers["X-Request-Id"] != hostile
    ok = requests.post(f"{dev[0]}/v1/render", json=render_body(), headers={"X-Request-Id": "req-42.a_b"}, timeout=10)
    assert ok.headers["X-Request-Id"] == "req-42.a_b"
    err = capfd.readouterr().err
    assert "ann@example.com" not in err and '"critical"' not in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line.get("template") == "<invalid>" for line in lines)


# -- tailor serve refuses to listen beyond loopback without credentials --------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", *([LAN] if LAN else [])])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_a_public_interface_without_credentials(host, workers, tmp_path):
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("TAILOR_SECRET", "TAILOR_API_TOKENS", "TAILOR_WRITE_KEYS")
    }
    result = subprocess.run(
        [sys.executable, "-c", "from tailor.cli import main; main()", "serve", "--host", host, "--workers", workers],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to listen" in result.stderr and "TAILOR_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_listens_everywhere_once_credentials_are_configured(tmp_path):
    from webtools import ServeProcess

    # serve refuses a missing SQLite store file unless told to create it (here, a fresh one in tmp_path)
    env = {"TAILOR_API_TOKENS": TOKEN, "TAILOR_DATABASE_URL": f"sqlite:///{tmp_path / 'tailor.db'}"}
    server = ServeProcess("--host", "0.0.0.0", "--no-warm", "--create-store", env=env)
    try:
        assert server.wait_ready() == {"status": "ok"}
        r = requests.get(f"{server.url}/healthz", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert "templates" in r.json()
    finally:
        server.stop()


def test_every_route_is_in_the_policy_table(shop_copy):
    """A new route must be placed in the table on purpose (unlisted ones get the API's policy, never open)."""
    from tailor.web.auth import API, POLICY, access_for

    app = _app(shop_copy)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {
        "render.render",
        "render.content",
        "ops.healthz",
        "ops.metrics",
        "preview.render_view",
        "profiles.export",
    } <= endpoints
    for endpoint in endpoints - {"static"}:  # Flask's own static folder: none here, and API-guarded anyway
        assert endpoint in POLICY or endpoint.split(".", 1)[0] + "." in POLICY, endpoint
    assert access_for("static") == API and access_for("someday.new_route") == API
    public = {e for e in endpoints if access_for(e).public}
    assert public == {
        "ops.healthz",
        "ops.openapi",
        "preview.login",
        "preview.logout",
        "preview.static",
        # RFC 8058: mailbox providers POST without credentials; the signed token is the credential
        "unsubscribe.confirm",
        "unsubscribe.unsubscribe",
    }


# -- found by attacking the merged policy ------------------------------------------------


def test_a_signature_cannot_move_part_of_its_path_into_a_body(secured, shop_copy):
    """``t.DELETE./v1/profiles/u-00001.uk.`` also reads as the path ``/v1/profiles/u-00001`` and the body ``uk.``."""
    signed_for = f"{secured}/v1/profiles/u-00001.uk"
    headers = signed_headers("DELETE", signed_for, SECRET)
    r = requests.delete(f"{secured}/v1/profiles/u-00001", data=b"uk.", headers=headers, timeout=10)
    assert "carries no body" in assert_problem(r, 401)["detail"]
    content = f"{secured}/v1/content/newsletter/hero?recipient=u-00001&at={AT}&x=1.ignored"
    headers = signed_headers("GET", content, SECRET)
    r = requests.get(content.removesuffix(".ignored"), data=b"ignored.", headers=headers, timeout=10)
    assert_problem(r, 401)
    engine = create_engine(shop_copy)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from profiles where id = 'u-00001'")).scalar() == 1
    engine.dispose()


def test_dev_mode_serves_only_requests_addressed_to_loopback(dev):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 makes the browser a loopback peer."""
    local = dev[0]
    export = f"{local}/v1/profiles/u-00004/export"
    rebound = requests.get(export, headers={"Host": "evil.example:8000"}, timeout=10)
    assert "Host header" in assert_problem(rebound, 403)["detail"]
    studio = requests.get(
        f"{local}/preview/api/render?template=newsletter&ref=u-00004&unmask=1",
        headers={"Host": "evil.example"},
        timeout=10,
    )
    assert studio.status_code == 403 and "@" not in studio.text
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert requests.get(export, headers={"Host": host}, timeout=10).status_code == 200, host


@pytest.mark.parametrize(
    "target", ["/%09/evil.example", "/%0d/evil.example", "/%0a/evil.example", "/%5C/evil.example", "//evil.example"]
)
def test_sign_in_never_redirects_off_the_site(secured, target):
    r = requests.get(f"{secured}/preview/login?next={target}", allow_redirects=False, timeout=10)
    assert r.status_code == 200  # the form, no 500
    r = requests.post(
        f"{secured}/preview/login?next={target}", data={"token": TOKEN}, allow_redirects=False, timeout=10
    )
    assert r.status_code == 303 and r.headers["Location"].endswith("/preview/"), r.headers.get("Location")


def test_the_studio_cookie_signer_is_built_once_and_follows_the_key():
    """Built once per key (not per request), and a cookie signed under an old key is refused."""
    from flask import Flask
    from itsdangerous import BadSignature

    from tailor.web.auth import install

    app = Flask(__name__)
    install(app, Settings(templates=ROOT / "templates", rules=ROOT / "rules").with_values(api_tokens=TOKEN))
    sessions = app.session_interface
    signer = sessions.get_signing_serializer(app)
    assert signer is not None and sessions.get_signing_serializer(app) is signer
    cookie = signer.dumps({"studio": "mark"})
    assert signer.loads(cookie) == {"studio": "mark"}
    app.secret_key = b"a rotated key"
    rotated = sessions.get_signing_serializer(app)
    assert rotated is not None and rotated is not signer
    with pytest.raises(BadSignature):
        rotated.loads(cookie)


# -- another site's page cannot spend this browser's credentials -----------------------------

CROSS_SITE = [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://evil.example"}]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_dev_mode_refuses_a_change_another_sites_page_asks_for(dev, headers):
    """Dev mode trusts the loopback position, which a browser on this machine has for every page it shows."""
    local = dev[0]
    track = {"type": "track", "userId": "u-00001", "event": "Product Viewed", "messageId": f"csrf-{len(str(headers))}"}
    body = assert_problem(requests.post(f"{local}/v1/track", json=track, headers=headers, timeout=10), 403)
    assert body["type"].endswith("cross-site-request")
    refused = requests.post(f"{local}/v1/render", json=render_body(), headers=headers, timeout=10)
    assert_problem(refused, 403)
    # the same requests from this server's own pages, from a script or an SDK (no browser headers), a reading GET
    same = {"Sec-Fetch-Site": "same-origin"}
    assert requests.post(f"{local}/v1/render", json=render_body(), headers=same, timeout=10).status_code == 200
    assert requests.post(f"{local}/v1/render", json=render_body(), timeout=10).status_code == 200
    origin = {"Origin": local}
    assert requests.post(f"{local}/v1/render", json=render_body(), headers=origin, timeout=10).status_code == 200
    assert requests.get(f"{local}/healthz", headers=headers, timeout=10).status_code == 200


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_basic_auth_a_browser_keeps_is_not_spent_by_another_site(secured, headers):
    """The studio's basic-auth login is cached and resent by the browser; a Bearer token is the caller's own."""
    refused = requests.post(
        f"{secured}/preview/api/send-test", json={}, auth=("qa", TOKEN), headers=headers, timeout=10
    )
    assert assert_problem(refused, 403)["type"].endswith("cross-site-request")
    basic = requests.post(f"{secured}/v1/render", json=render_body(), auth=("qa", TOKEN), headers=headers, timeout=10)
    assert_problem(basic, 403)
    bearer = {"Authorization": f"Bearer {TOKEN}", **headers}
    assert requests.post(f"{secured}/v1/render", json=render_body(), headers=bearer, timeout=10).status_code == 200
    own = requests.post(f"{secured}/v1/render", json=render_body(), auth=("qa", TOKEN), timeout=10)
    assert own.status_code == 200
