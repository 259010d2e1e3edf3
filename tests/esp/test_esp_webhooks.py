"""POST /v1/esp/<provider> through a real HTTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import requests
from esp_helpers import (
    MAILGUN_KEY,
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    dumps,
    mailgun_event,
    mailgun_signed,
    postmark_event,
    sample,
    sendgrid_events,
    sendgrid_headers,
)
from flask import Flask
from sqlalchemy import text

from tailor.config import Settings
from tailor.esp import EspConfig
from tailor.store import Store
from tailor.web.esp import create_esp_blueprint


def _counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("profiles", "events", "suppressions")
        }


@pytest.fixture
def url(store: Store, serve, sendgrid_keys) -> str:
    config = EspConfig(
        sendgrid_public_key=sendgrid_keys[1],
        mailgun_signing_key=MAILGUN_KEY,
        postmark_user=POSTMARK_USER,
        postmark_password=POSTMARK_PASSWORD,
    )
    app = Flask("esp-test")
    app.register_blueprint(create_esp_blueprint(store, Settings(), config=config))
    return serve(app)


def _post_sendgrid(url: str, keys, payload, **kwargs) -> requests.Response:
    body = dumps(payload)
    return requests.post(
        f"{url}/v1/esp/sendgrid", data=body, headers=sendgrid_headers(keys[0], body), timeout=10, **kwargs
    )


def _post_mailgun(url: str, payload) -> requests.Response:
    return requests.post(f"{url}/v1/esp/mailgun", json=mailgun_signed(payload), timeout=10)


def _post_postmark(url: str, payload, auth=(POSTMARK_USER, POSTMARK_PASSWORD)) -> requests.Response:
    return requests.post(f"{url}/v1/esp/postmark", json=payload, auth=auth, timeout=10)


def _identify(store: Store, user: str, email: str) -> None:
    store.ingest(
        [
            {
                "type": "identify",
                "userId": user,
                "messageId": f"id-{user}",
                "timestamp": "2017-01-01T00:00:00Z",
                "traits": {"email": email, "first_name": "Ann"},
            }
        ]
    )


def test_sendgrid_batch_stored_once_with_suppressions(store: Store, url: str, sendgrid_keys) -> None:
    _identify(store, "u-1", "Example@Test.com")
    first = _post_sendgrid(url, sendgrid_keys, sample("sendgrid_events"))
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 12, "duplicates": 0, "suppressions": 3, "new_profiles": 0, "skipped": {}}
    # SendGrid retries the same batch (e.g. our 200 was lost): nothing is stored twice
    again = _post_sendgrid(url, sendgrid_keys, sample("sendgrid_events"))
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 12 and again.json()["suppressions"] == 0
    assert _counts(store) == {"profiles": 1, "events": 13, "suppressions": 3}
    doc = store.load_profile(id="u-1")
    names = [e["event"] for e in doc["events"] if e["type"] == "track"]
    assert names.count("Email Bounced") == 2 and "Email Link Clicked" in names and "Unsubscribed" in names
    assert doc["email"] == "example@test.com" and doc["traits"] == {"first_name": "Ann"}  # untouched
    stored_click = next(e for e in doc["events"] if e.get("event") == "Email Link Clicked")
    assert stored_click["properties"]["url"] == "http://www.sendgrid.com/"
    assert store.is_suppressed("u-1") in ("hard_bounce", "spam_report", "unsubscribe")
    assert store.is_suppressed(email="EXAMPLE@test.com") is not None


def test_sendgrid_soft_events_do_not_suppress(store: Store, url: str, sendgrid_keys) -> None:
    _identify(store, "u-2", "soft@example.com")
    batch = sendgrid_events(
        "processed", "deferred", "delivered", "open", "click", "group_resubscribe", email="soft@example.com"
    )
    batch += [e for e in sendgrid_events("bounce", email="soft@example.com") if e["type"] == "blocked"]
    response = _post_sendgrid(url, sendgrid_keys, batch)
    assert response.json()["accepted"] == 7 and response.json()["suppressions"] == 0
    assert store.is_suppressed("u-2") is None and store.is_suppressed(email="soft@example.com") is None


def test_sendgrid_bad_signature_401_stores_nothing(store: Store, url: str, sendgrid_keys) -> None:
    body = dumps(sample("sendgrid_events"))
    headers = sendgrid_headers(sendgrid_keys[0], body)
    tampered = body.replace(b"unsubscribe", b"unsubscribX", 1)
    response = requests.post(f"{url}/v1/esp/sendgrid", data=tampered, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert requests.post(f"{url}/v1/esp/sendgrid", data=body, timeout=10).status_code == 401  # unsigned
    assert _counts(store) == {"profiles": 0, "events": 0, "suppressions": 0}


def test_sendgrid_malformed_400(store: Store, url: str, sendgrid_keys) -> None:
    for payload in ({"not": "an array"}, [{"event": "open", "email": "a@b.c", "timestamp": "later"}]):
        response = _post_sendgrid(url, sendgrid_keys, payload)
        assert response.status_code == 400
        assert response.json()["status"] == 400
    body = b"[{not json"
    response = requests.post(
        f"{url}/v1/esp/sendgrid", data=body, headers=sendgrid_headers(sendgrid_keys[0], body), timeout=10
    )
    assert response.status_code == 400 and "JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    "name, suppression",
    [
        ("delivered", None),
        ("failed_permanent", "hard_bounce"),
        ("failed_temporary", None),
        ("opened", None),
        ("clicked", None),
        ("unsubscribed", "unsubscribe"),
        ("complained", "spam_report"),
    ],
)
def test_mailgun_samples(store: Store, url: str, name: str, suppression) -> None:
    _identify(store, "u-3", "alice@example.com")
    payload = sample(f"mailgun_{name}")
    response = _post_mailgun(url, payload)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    assert _post_mailgun(url, payload).json()["duplicates"] == 1  # Mailgun's retry, newly signed
    assert store.is_suppressed("u-3") == suppression
    assert _counts(store)["events"] == 2


def test_mailgun_bad_signature_401_and_malformed_406(store: Store, url: str) -> None:
    unsigned = sample("mailgun_unsubscribed")  # the documented signature is not made with our key
    assert requests.post(f"{url}/v1/esp/mailgun", json=unsigned, timeout=10).status_code == 401
    for bad in (b"not json", b"[]"):
        response = requests.post(
            f"{url}/v1/esp/mailgun", data=bad, headers={"Content-Type": "application/json"}, timeout=10
        )
        assert response.status_code in (401, 406)
    assert requests.post(f"{url}/v1/esp/mailgun", data=b"{oops", timeout=10).status_code == 406
    broken = mailgun_event("delivered", timestamp="yesterday")
    response = _post_mailgun(url, broken)
    assert response.status_code == 406  # Mailgun does not retry a 406
    assert response.json()["pointer"] == "/event-data/timestamp"
    assert _counts(store)["events"] == 0


@pytest.mark.parametrize(
    "name, suppression",
    [
        ("bounce", "hard_bounce"),
        ("soft_bounce", None),
        ("delivery", None),
        ("open", None),
        ("click", None),
        ("spam_complaint", "spam_report"),
    ],
)
def test_postmark_samples(store: Store, url: str, name: str, suppression) -> None:
    _identify(store, "u-4", "john@example.com")
    payload = sample(f"postmark_{name}")
    assert _post_postmark(url, payload).json()["accepted"] == 1
    assert _post_postmark(url, payload).json()["duplicates"] == 1
    assert store.is_suppressed("u-4") == suppression


def test_postmark_auth_and_malformed(store: Store, url: str) -> None:
    assert _post_postmark(url, sample("postmark_bounce"), auth=(POSTMARK_USER, "wrong")).status_code == 401
    assert _post_postmark(url, sample("postmark_bounce"), auth=None).status_code == 401
    response = _post_postmark(url, {"MessageID": "x"})
    assert response.status_code == 400 and response.json()["pointer"] == "/RecordType"
    assert _counts(store)["events"] == 0


def test_subscription_change_after_bounce_one_suppression(store: Store, url: str) -> None:
    email = "bounced-address@wildbit.com"
    _post_postmark(url, postmark_event("bounce", email=email))
    response = _post_postmark(url, sample("postmark_subscription_change"))
    assert response.json() == {"accepted": 1, "duplicates": 0, "suppressions": 0, "new_profiles": 0, "skipped": {}}
    assert _counts(store)["suppressions"] == 1


def test_unknown_recipient_gets_an_anonymous_profile_then_merges(store: Store, url: str, sendgrid_keys) -> None:
    batch = sendgrid_events("open", "unsubscribe", email="New.Person@Example.com")
    assert _post_sendgrid(url, sendgrid_keys, batch).json()["new_profiles"] == 1
    anon_id = store.resolve(email="new.person@example.com")
    assert anon_id.startswith("anon-esp-") and "new.person" not in anon_id
    assert store.is_suppressed(anon_id) == "unsubscribe"
    # the person signs up later: their profile takes over the events and the suppression
    _identify(store, "u-9", "new.person@example.com")
    doc = store.load_profile(email="new.person@example.com")
    assert doc["id"] == "u-9"
    assert {e.get("event") for e in doc["events"]} >= {"Email Opened", "Unsubscribed"}
    assert store.is_suppressed("u-9") == "unsubscribe"
    assert _counts(store)["profiles"] == 1


def test_unknown_provider_404(url: str) -> None:
    response = requests.post(f"{url}/v1/esp/mailchimp", json=[], timeout=10)
    assert response.status_code == 404 and response.headers["Content-Type"] == "application/problem+json"


def test_unconfigured_or_incomplete_provider_is_disabled(store: Store, serve) -> None:
    """No open mode, not even on loopback: an unverified webhook could suppress anyone."""
    app = Flask("esp-incomplete")
    config = EspConfig(postmark_user=POSTMARK_USER)  # a user but no password: incomplete
    app.register_blueprint(create_esp_blueprint(store, Settings(), config=config))
    url = serve(app)
    for provider, payload, auth, missing in [
        ("postmark", postmark_event("bounce"), (POSTMARK_USER, ""), "TAILOR_POSTMARK_PASSWORD"),
        ("sendgrid", sendgrid_events("unsubscribe"), None, "TAILOR_SENDGRID_PUBLIC_KEY"),
        ("mailgun", mailgun_signed(mailgun_event("unsubscribed")), None, "TAILOR_MAILGUN_SIGNING_KEY"),
    ]:
        response = requests.post(f"{url}/v1/esp/{provider}", json=payload, auth=auth, timeout=10)
        assert response.status_code == 404, provider
        assert response.headers["Content-Type"] == "application/problem+json"
        assert missing in response.json()["detail"] and "disabled" in response.json()["detail"]
    assert _counts(store) == {"profiles": 0, "events": 0, "suppressions": 0}


def test_mailgun_replayed_token_with_new_event_data_refused(store: Store, url: str) -> None:
    """Someone who saw one signed webhook re-sends its signature with another recipient: 403, nothing stored."""
    _identify(store, "victim", "victim@example.com")
    seen = mailgun_signed(mailgun_event("opened", "someone@example.com"))
    assert requests.post(f"{url}/v1/esp/mailgun", json=seen, timeout=10).status_code == 200
    before = _counts(store)
    forged = mailgun_event("complained", "victim@example.com")
    forged["signature"] = seen["signature"]
    response = requests.post(f"{url}/v1/esp/mailgun", json=forged, timeout=10)
    assert response.status_code == 403 and response.headers["Content-Type"] == "application/problem+json"
    assert "replay" in response.json()["detail"]
    assert _counts(store) == before and store.is_suppressed("victim") is None
    # Mailgun retrying the very same request (lost answer) is a duplicate, not an error
    again = requests.post(f"{url}/v1/esp/mailgun", json=seen, timeout=10)
    assert again.status_code == 200 and again.json()["accepted"] == 0 and again.json()["duplicates"] == 1


def test_mailgun_replay_resplit_across_timestamp_and_token_refused(store: Store, url: str) -> None:
    """A token starting ``e0`` moved into the timestamp (``"<ts>e0"``, ``token[2:]``) signs the same bytes.

    ``float("<ts>e0")`` is the same time and ``token[2:]`` a "new" token: before, the
    replay carried new event data (unsubscribe a victim) and was stored.
    """
    import secrets
    import time

    _identify(store, "victim", "victim@example.com")
    timestamp, token = str(int(time.time())), "e0" + secrets.token_hex(24)
    seen = mailgun_signed(mailgun_event("delivered", "someone@example.com"), token=token, timestamp=timestamp)
    assert requests.post(f"{url}/v1/esp/mailgun", json=seen, timeout=10).status_code == 200
    before = _counts(store)
    forged = mailgun_event("unsubscribed", "victim@example.com")
    forged["signature"] = {**seen["signature"], "timestamp": timestamp + "e0", "token": token[2:]}
    response = requests.post(f"{url}/v1/esp/mailgun", json=forged, timeout=10)
    assert response.status_code in (401, 403) and response.headers["Content-Type"] == "application/problem+json"
    assert _counts(store) == before and store.is_suppressed("victim") is None
    assert store.is_suppressed(email="victim@example.com") is None


def test_mailgun_token_remembered_across_workers(store: Store, serve) -> None:
    """Two apps (two workers) over one database: the token used on one is refused on the other."""
    config = EspConfig(mailgun_signing_key=MAILGUN_KEY)
    urls = []
    for name in ("worker-1", "worker-2"):
        app = Flask(name)
        app.register_blueprint(create_esp_blueprint(store, Settings(), config=config))
        urls.append(serve(app))
    seen = mailgun_signed(mailgun_event("delivered", "a@example.com"))
    assert requests.post(f"{urls[0]}/v1/esp/mailgun", json=seen, timeout=10).status_code == 200
    forged = {**mailgun_event("unsubscribed", "b@example.com"), "signature": seen["signature"]}
    assert requests.post(f"{urls[1]}/v1/esp/mailgun", json=forged, timeout=10).status_code == 403
    assert store.is_suppressed(email="b@example.com") is None


def test_mailgun_old_signature_refused(store: Store, url: str) -> None:
    import time

    old = mailgun_signed(mailgun_event("unsubscribed", "victim@example.com"), timestamp=str(int(time.time()) - 3600))
    response = requests.post(f"{url}/v1/esp/mailgun", json=old, timeout=10)
    assert response.status_code == 401 and "300 s" in response.json()["detail"]
    assert _counts(store)["events"] == 0


def test_mailgun_non_ascii_signature_is_a_401_not_a_500(store: Store, url: str) -> None:
    # Before: hmac.compare_digest on a str with non-ASCII characters raises TypeError:
    # anyone could make the webhook answer 500 (and Mailgun retry for hours).
    forged = mailgun_signed(mailgun_event("unsubscribed", "victim@example.com"))
    forged["signature"]["signature"] = "é" * 64
    response = requests.post(f"{url}/v1/esp/mailgun", json=forged, timeout=10)
    assert response.status_code == 401 and response.headers["Content-Type"] == "application/problem+json"
    assert _counts(store)["events"] == 0 and store.is_suppressed(email="victim@example.com") is None


def test_mailgun_expired_tokens_are_forgotten(store: Store, url: str) -> None:
    """Tokens are kept only while their timestamp could still pass: the table does not grow forever."""
    from datetime import datetime, timedelta

    from tailor.store.models import UsedWebhookToken

    with store.engine.begin() as conn:
        conn.execute(
            UsedWebhookToken.__table__.insert().values(
                provider="mailgun", token="old", digest="x", expires_at=datetime(2020, 1, 1) - timedelta(days=1)
            )
        )
    assert _post_mailgun(url, mailgun_event("delivered", "a@example.com")).status_code == 200
    with store.engine.connect() as conn:
        tokens = conn.execute(text("SELECT token FROM webhook_tokens")).scalars().all()
    assert "old" not in tokens and len(tokens) == 1


def test_sendgrid_stale_timestamp_refused(store: Store, url: str, sendgrid_keys) -> None:
    import time

    body = dumps(sendgrid_events("unsubscribe", email="victim@example.com"))
    headers = sendgrid_headers(sendgrid_keys[0], body, str(int(time.time()) - 3600))
    response = requests.post(f"{url}/v1/esp/sendgrid", data=body, headers=headers, timeout=10)
    assert response.status_code == 401 and "300 s" in response.json()["detail"]
    assert _counts(store)["events"] == 0 and store.is_suppressed(email="victim@example.com") is None


def test_postmark_empty_password_refused(store: Store, url: str) -> None:
    response = _post_postmark(url, postmark_event("bounce"), auth=(POSTMARK_USER, ""))
    assert response.status_code == 401 and _counts(store)["events"] == 0


def test_env_configuration(monkeypatch, sendgrid_keys) -> None:
    monkeypatch.setenv("TAILOR_SENDGRID_PUBLIC_KEY", sendgrid_keys[1])
    monkeypatch.setenv("TAILOR_MAILGUN_SIGNING_KEY", MAILGUN_KEY)
    monkeypatch.setenv("TAILOR_POSTMARK_USER", POSTMARK_USER)
    monkeypatch.delenv("TAILOR_POSTMARK_PASSWORD", raising=False)
    config = EspConfig.from_settings(Settings.load(None))
    assert config.secret("sendgrid") == sendgrid_keys[1] and config.secret("mailgun") == MAILGUN_KEY
    assert config.secret("postmark") is None and config.missing("postmark") == ("TAILOR_POSTMARK_PASSWORD",)
