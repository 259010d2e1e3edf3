"""Store-backed send-time calls through a real server: recipients looked up in the store.

The example shop (catalog, 640 profiles, ~28k events) is loaded into a SQLite store; the
ESP sends only a reference (`id`, `user_id` or `email`), as it does at send time.
"""

from __future__ import annotations

import pytest
import requests
from webtools import ROOT, LiveServer, free_port

from tailor.config import Settings
from tailor.web import create_app

AT = "2026-11-23T12:00:00Z"
#: a shop customer (fixtures/profiles.csv) with a cart left behind at AT
CUSTOMER = {"id": "u-00001", "email": "martina.perez@example.org", "first_name": "Martina"}


@pytest.fixture(scope="module")
def store_url(shop_db):
    settings = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=shop_db)
    app = create_app(settings)
    assert app.extensions["tailor"].warm() == {}
    server = LiveServer(app).start()
    yield server.url
    server.stop()


def render(url, **body):
    return requests.post(f"{url}/v1/render", json={"template": "newsletter", "at": AT, **body}, timeout=30)


@pytest.mark.parametrize(
    "recipient",
    [
        {"id": CUSTOMER["id"]},
        {"user_id": CUSTOMER["id"]},
        {"email": CUSTOMER["email"]},
        {"email": CUSTOMER["email"].upper()},
    ],
)
def test_render_looks_the_recipient_up_in_the_store(store_url, recipient):
    r = render(store_url, recipient=recipient)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["subject"].startswith("Martina, your weekly edit")
    assert data["fallbacks"] == []
    # the stored events drive the decision: her cart is waiting
    assert data["blocks"]["hero"] == "hero/cart-reminder" and "COMEBACK10" in data["html"]


def test_esp_traits_override_for_that_render_only(store_url):
    r = render(store_url, recipient={"id": CUSTOMER["id"], "traits": {"first_name": "Tina"}})
    assert r.status_code == 200 and r.json()["subject"].startswith("Tina, your weekly edit")
    again = render(store_url, recipient={"id": CUSTOMER["id"]})
    assert again.json()["subject"].startswith("Martina, your weekly edit"), "the override was not stored"


def test_unknown_recipient_renders_the_defaults(store_url):
    r = render(store_url, recipient={"email": "nobody-here@example.com"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert [f["reason"] for f in data["fallbacks"]] == ["unknown-recipient"]
    assert data["subject"].startswith("Your weekly edit") and data["blocks"]["hero"] == "hero/generic"


def test_unknown_recipient_without_email_is_refused_by_the_abort_rule(store_url):
    r = render(store_url, recipient={"id": "u-does-not-exist"})
    assert r.status_code == 422 and r.json()["reason"] == "the recipient has no email address"


def content(url, slot="hero", **params):
    return requests.get(f"{url}/v1/content/newsletter/{slot}", params={"at": AT, **params}, timeout=30)


def test_content_for_connected_content_callers(store_url):
    r = content(store_url, recipient=CUSTOMER["id"])
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    data = r.json()
    assert isinstance(data, dict), "Iterable data feeds need a top-level object"
    assert data["block"] == "hero/cart-reminder" and data["variables"] == {"discount_code": "COMEBACK10"}
    assert len(data["products"]) == 6
    for product in data["products"]:  # enough for the ESP to render a product card itself
        assert {"id", "title", "price", "currency", "url", "image_url"} <= set(product)
        assert product["url"].startswith("https://") and isinstance(product["price"], float)
    by_email = content(store_url, recipient=CUSTOMER["email"]).json()
    assert by_email["block"] == data["block"] and by_email["products"] == data["products"]


def test_content_unknown_recipient_and_unknown_slot(store_url):
    r = content(store_url, recipient="nobody-here@example.com")
    assert r.status_code == 200 and [f["reason"] for f in r.json()["fallbacks"]] == ["unknown-recipient"]
    r = content(store_url, slot="sidebar", recipient=CUSTOMER["id"])
    assert r.status_code == 404 and r.json()["type"].endswith("/unknown-slot")
    r = content(store_url)
    assert r.status_code == 400 and r.json()["pointer"] == "?recipient"


def _render_count(url: str, template: str) -> float:
    metrics = requests.get(f"{url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("tailor_render_seconds_count") and f'template="{template}"' in line
    )


def test_repeated_send_id_same_body_counted_once(store_url):
    before = _render_count(store_url, "newsletter")
    params = {"recipient": "u-00002", "send_id": "dispatch-77"}
    bodies = [content(store_url, **params).content for _ in range(3)]  # HTML, text, a retry
    assert bodies[0] == bodies[1] == bodies[2]
    assert _render_count(store_url, "newsletter") == before + 1
    # another send for the same recipient is a new exposure
    content(store_url, recipient="u-00002", send_id="dispatch-78")
    assert _render_count(store_url, "newsletter") == before + 2


def test_healthz_reports_the_store(store_url):
    r = requests.get(f"{store_url}/healthz", timeout=10)
    assert r.status_code == 200 and r.json()["store"] == "ok" and r.json()["status"] == "ok"


@pytest.mark.parametrize(
    "database_url",
    [
        f"postgresql://tailor@127.0.0.1:{free_port()}/tailor?connect_timeout=2",  # nothing listens there
        "sqlite:////nonexistent-dir/tailor.db",
    ],
    ids=["postgres-closed-port", "sqlite-unopenable"],
)
def test_store_down_is_503_problem_json(serve, database_url):
    settings = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=database_url)
    url = serve(create_app(settings))
    for r in (render(url, recipient={"id": CUSTOMER["id"]}), content(url, recipient=CUSTOMER["id"])):
        assert r.status_code == 503, r.text
        assert r.headers["Content-Type"] == "application/problem+json"
        assert r.json()["type"].endswith("/store-unavailable") and "Traceback" not in r.text
    health = requests.get(f"{url}/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["store"] == "unreachable"


def test_erasure_drops_cached_renders(serve, shop_db, tmp_path):
    """A render cached for a send_id is not served again after the person is erased."""
    import shutil

    from tailor.config import Settings
    from tailor.web import create_app

    db = tmp_path / "erase.db"
    shutil.copyfile(shop_db.replace("sqlite:///", ""), db)
    url = serve(
        create_app(Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=f"sqlite:///{db}"))
    )
    body = {"template": "newsletter", "recipient": {"id": "u-00001"}, "at": AT, "send_id": "s-erase"}
    first = requests.post(f"{url}/v1/render", json=body, timeout=30)
    assert first.status_code == 200 and "Martina" in first.json()["subject"]
    assert requests.delete(f"{url}/v1/profiles/u-00001", timeout=30).status_code == 200
    again = requests.post(f"{url}/v1/render", json=body, timeout=30)
    assert "Martina" not in again.text, "the cached render of an erased person is gone"


def test_ids_longer_than_the_send_records_hold_are_a_400(serve, database_url):
    """PostgreSQL enforces the 255 characters of the send records' columns (SQLite does not): each was a 500."""
    from sqlalchemy import text

    from segment_messages import identify
    from tailor.store import Store

    store = Store(database_url)
    store.migrate()
    store.ingest([identify("i1", user="u-1", email="u1@example.com", first_name="Ann", consent_email_marketing=True)])
    url = serve(create_app(Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=database_url)))
    for body, pointer in [
        ({"recipient": {"id": "u-1"}, "send_id": "s" * 256}, "/send_id"),
        ({"profile": {"id": "p" * 256, "email": "p@example.com"}}, "/profile/id"),
        ({"profile": {"id": "p", "user_id": "p" * 256, "email": "p@example.com"}}, "/profile/user_id"),
    ]:
        r = requests.post(f"{url}/v1/render", json={"template": "welcome", "at": AT, **body}, timeout=30)
        assert r.status_code == 400 and r.json()["pointer"] == pointer, r.text[:300]
    r = requests.get(f"{url}/v1/content/welcome/hero", params={"recipient": "u-1", "send_id": "s" * 256}, timeout=30)
    assert r.status_code == 400 and r.json()["pointer"] == "?send_id", r.text[:300]
    # at the limit: the journal's key (esp:<send_id>:<profile>) is longer than its column, so it is hashed
    body = {"template": "welcome", "at": AT, "recipient": {"id": "u-1"}, "send_id": "s" * 255}
    assert requests.post(f"{url}/v1/render", json=body, timeout=30).status_code == 200
    with store.engine.connect() as conn:
        keys = [row[0] for row in conn.execute(text("SELECT send_id FROM deliveries"))]
    store.close()
    assert len(keys) == 1 and len(keys[0]) <= 255


def test_a_nul_in_the_url_is_a_400_on_both_stores(serve, database_url):
    """%00 in a path or query value reached the store: PostgreSQL refused to compare it (a 500)."""
    from segment_messages import identify
    from tailor.store import Store

    store = Store(database_url)
    store.migrate()
    store.ingest([identify("i1", user="u-1", email="u1@example.com", consent_email_marketing=True)])
    url = serve(create_app(Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=database_url)))
    for method, path in [
        ("GET", "/v1/profiles/u-1%00"),
        ("DELETE", "/v1/profiles/u-1%00"),
        ("GET", "/v1/profiles/u-1%00/export"),
        ("PUT", "/v1/profiles/u-1%00/consents"),
        ("GET", "/v1/content/welcome/hero?recipient=u-1%00"),
        ("GET", "/v1/content/welcome/hero?recipient=u-1&at%00=x"),
        ("GET", "/v1/unsubscribe/abc%00"),
        ("GET", "/preview/render?template=welcome&ref=u-1%00"),
    ]:
        r = requests.request(method, f"{url}{path}", json={"consents": {"email_marketing": False}}, timeout=30)
        assert r.status_code == 400 and r.headers["Content-Type"] == "application/problem+json", (path, r.text[:300])
        assert "NUL" in r.json()["detail"]
    assert store.load_profile(id="u-1")["consents"]["email_marketing"] is True  # nothing was changed
    store.close()


def test_one_campaign_send_id_never_answers_one_person_with_anothers_email(serve, database_url):
    """ESPs reuse a send id for a whole campaign. The answer cache keyed a recipient on
    id, email and user_id only: a visitor known by anonymous_id, or a profile document
    without an id, got the email rendered for the previous one (name, unsubscribe link)."""
    from segment_messages import identify
    from tailor.store import Store

    store = Store(database_url)
    store.migrate()
    store.ingest(
        [
            identify("i1", anon="a-1", email="alice@example.com", first_name="Alice", consent_email_marketing=True),
            identify("i2", anon="a-2", email="bob@example.com", first_name="Bob", consent_email_marketing=True),
        ]
    )
    store.close()
    url = serve(create_app(Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=database_url)))

    def subject(**who):
        body = {"template": "welcome", "at": AT, "send_id": "welcome-week-48", **who}
        r = requests.post(f"{url}/v1/render", json=body, timeout=30)
        assert r.status_code == 200, r.text[:300]
        return r.json()["subject"]

    assert "Alice" in subject(recipient={"anonymous_id": "a-1"})
    assert "Bob" in subject(recipient={"anonymous_id": "a-2"})
    assert "Carol" in subject(profile={"email": "carol@example.com", "traits": {"first_name": "Carol"}})
    assert "Dave" in subject(profile={"email": "carol@example.com", "traits": {"first_name": "Dave"}})
    assert "Alice" in subject(recipient={"anonymous_id": "a-1"})  # a repeat of a send is still answered
