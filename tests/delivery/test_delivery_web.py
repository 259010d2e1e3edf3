"""Over a real HTTP server: one-click unsubscribe, ``headers`` in /v1/render, the frequency cap as an abort."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests

from tailor import Tailor
from tailor.config import Settings
from tailor.delivery.message import RenderedEmail
from tailor.delivery.sender import Sender
from tailor.delivery.smtp import SmtpConfig, SmtpTransport
from tailor.delivery.unsubscribe import Unsubscribe
from tailor.web import create_app

AT = "2026-11-23T12:00:00Z"
PAGE = """\
---
subject: "Hello {{ profile.first_name | default('there') }}"
{extra}---
<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{{{ profile.first_name | default('there') }}}}</mj-text>
</mj-column></mj-section></mj-body></mjml>
"""


def page(extra: str = "") -> str:
    return PAGE.replace("{extra}", extra).replace("{{{{", "{{").replace("}}}}", "}}")


@pytest.fixture
def shop(write_templates, tmp_path: Path, database_url: str, serve):
    templates = write_templates({"news.mjml": page(), "receipt.mjml": page("transactional: true\n")})
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "sending.yaml").write_text("frequency_cap:\n  max: 1\n  per: 16h\n", encoding="utf-8")
    settings = Settings(
        templates=templates, rules=rules, database_url=database_url, public_url="https://mail.shop.example"
    ).with_values(smtp_from="Shop <news@shop.example>")
    tailor = Tailor(templates, rules, database_url, settings=settings, create_store=True)
    tailor.store.ingest(
        [
            {
                "type": "identify",
                "userId": f"u-{n}",
                "messageId": f"id-{n}",
                "timestamp": "2026-11-01T10:00:00Z",
                "traits": {"email": f"ann{n}@example.com", "first_name": "Ann"},
            }
            for n in (1, 2)
        ]
    )
    url = serve(create_app(settings, tailor=tailor))
    return tailor, url


def render(url: str, **body):
    return requests.post(f"{url}/v1/render", json={"template": "news", "at": AT, **body}, timeout=30)


def local(url: str, link: str) -> str:
    """The link as the test server serves it (links name the public https host)."""
    return url + urlsplit(link).path


def test_render_answers_carry_the_headers_a_sender_must_set(shop):
    tailor, url = shop
    answer = render(url, recipient={"id": "u-1"}, send_id="newsletter-48")
    assert answer.status_code == 200, answer.text
    headers = answer.json()["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = headers["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://mail.shop.example/v1/unsubscribe/") and "ann1" not in link
    assert headers["Message-ID"].endswith("@shop.example>")
    # the same send re-rendered (Braze renders several times) has the same Message-ID; another recipient another
    again = render(url, recipient={"id": "u-1"}, send_id="newsletter-48").json()["headers"]
    other = render(url, recipient={"id": "u-2"}, send_id="newsletter-48").json()["headers"]
    assert again["Message-ID"] == headers["Message-ID"] != other["Message-ID"]
    without_send = render(url, recipient={"id": "u-2"}).json()["headers"]
    assert "Message-ID" not in without_send and "List-Unsubscribe" in without_send


def test_one_click_unsubscribe_records_a_suppression_and_the_next_send_is_refused(shop, smtp):
    tailor, url = shop
    link = local(url, render(url, recipient={"id": "u-1"}).json()["headers"]["List-Unsubscribe"].strip("<>"))
    # a mail scanner prefetching the link unsubscribes nobody
    shown = requests.get(link, timeout=30)
    assert shown.status_code == 200 and 'method="post"' in shown.text
    assert tailor.store.is_suppressed("u-1") is None
    # RFC 8058: a POST with this body and no cookies
    done = requests.post(link, data={"List-Unsubscribe": "One-Click"}, timeout=30)
    assert done.status_code == 200, done.text
    assert tailor.store.is_suppressed("u-1") == "unsubscribe"
    assert requests.post(link, data={"List-Unsubscribe": "One-Click"}, timeout=30).status_code == 200  # repeatable
    refused = render(url, recipient={"id": "u-1"}, send_id="newsletter-49")
    assert refused.status_code == 422
    assert "suppressed (unsubscribe)" in refused.json()["detail"]
    # a delivery rendered before the click does not go out either
    sender = Sender(tailor.store, SmtpTransport(SmtpConfig.from_url(smtp.url)), "Shop <news@shop.example>")
    outcome = sender.send(
        RenderedEmail("newsletter-47:u-1", "ann1@example.com", "Hi", "<p>Hi</p>", "Hi", profile_id="u-1")
    )
    assert outcome.status == "suppressed" and smtp.mailbox.messages == []
    assert tailor.store.is_suppressed("u-2") is None  # nobody else


@pytest.mark.parametrize("method", ["get", "post"])
def test_forged_and_tampered_tokens_are_refused_as_problem_json(shop, method):
    tailor, url = shop
    token = Unsubscribe(tailor.store).token("ann2@example.com")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    other_store_token = "AQ" + "x" * 62
    for bad in (flipped, other_store_token, "not-a-token", token[:-1]):
        answer = getattr(requests, method)(
            f"{url}/v1/unsubscribe/{bad}", data={"List-Unsubscribe": "One-Click"}, timeout=30
        )
        assert answer.status_code == 404, bad
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["type"].endswith("unknown-unsubscribe-link")
    assert tailor.store.is_suppressed("u-2") is None


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_token_in_any_other_spelling_is_refused(shop, method):
    # Before: base64 decoding skipped characters outside its alphabet, took padding and
    # ignored the last character's spare bits, so these all unsubscribed — and the GET
    # page printed the edited token, quotes included, into its form's action.
    tailor, url = shop
    token = Unsubscribe(tailor.store).token("ann2@example.com")
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare_bits = [token[:-1] + c for c in last if c != token[-1]]
    edited = [token[:5] + '"(!)' + token[5:], token + "==", token[:20] + "." + token[20:], *spare_bits]
    for bad in edited:
        answer = getattr(requests, method)(
            f"{url}/v1/unsubscribe/{quote(bad, safe='')}", data={"List-Unsubscribe": "One-Click"}, timeout=30
        )
        assert answer.status_code == 404, bad
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert tailor.store.is_suppressed("u-2") is None
    assert requests.get(f"{url}/v1/unsubscribe/{token}", timeout=30).status_code == 200  # the real one still works


def test_a_one_click_post_without_the_rfc_8058_body_changes_nothing(shop):
    tailor, url = shop
    token = Unsubscribe(tailor.store).token("ann2@example.com")
    answer = requests.post(f"{url}/v1/unsubscribe/{token}", data={}, timeout=30)
    assert answer.status_code == 400 and answer.headers["Content-Type"] == "application/problem+json"
    assert tailor.store.is_suppressed("u-2") is None


def test_the_frequency_cap_aborts_a_second_esp_send_and_says_why_in_the_trace(shop):
    tailor, url = shop
    first = render(url, recipient={"id": "u-2"}, send_id="welcome-series-1")
    assert first.status_code == 200
    [cap] = [d for d in first.json()["decisions"] if "frequency_cap" in d]
    assert cap["frequency_cap"] == "allowed" and cap["sent_in_period"] == 0
    assert render(url, recipient={"id": "u-2"}, send_id="welcome-series-1").status_code == 200  # the same send
    second = render(url, recipient={"id": "u-2"}, send_id="newsletter-50")
    assert second.status_code == 422
    problem = second.json()
    assert problem["reason"].startswith("frequency cap: 1 marketing email(s) in the last 16h")
    assert {"frequency_cap": "capped", "max": 1, "per": "16h", "sent_in_period": 1}.items() <= next(
        d for d in problem["decisions"] if "frequency_cap" in d
    ).items()
    receipt = render(url, template="receipt", recipient={"id": "u-2"}, send_id="order-7")
    assert receipt.status_code == 200
    assert any(d.get("frequency_cap") == "exempt" for d in receipt.json()["decisions"])
    # a render without send_id (a preview, a content fetch) is neither capped nor counted
    assert render(url, recipient={"id": "u-2"}).status_code == 200
    assert render(url, recipient={"id": "u-1"}, send_id="newsletter-50").status_code == 200


@pytest.mark.parametrize(
    ("yaml_text", "where", "message"),
    [
        ("frequency_cap:\n  max: 1\n  per: 16 hours\n", ":3:8", "per"),
        ("frequency_cap:\n  max: 0\n  per: 16h\n", ":2:8", "max"),
        ("frequency_cap:\n  max: 1\n  per: 16h\n  window: 2d\n", ":4:", "window"),
        # these two once failed elsewhere: a traceback from `tailor check`, an OverflowError in every send
        ("frequency_cap:\n  max: 1\n  per: 99999999999w\n", ":3:8", "longer than 36525 days"),
        ("frequency_cap:\n  max: 99999999999999999999999\n  per: 16h\n", ":2:8", "maximum of 1000000"),
    ],
)
def test_frequency_cap_mistakes_are_reported_at_path_line_col(tmp_path, yaml_text, where, message):
    from tailor.rules import RuleBook

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "sending.yaml").write_text(yaml_text, encoding="utf-8")
    problems = [str(p) for p in RuleBook.check(rules)]
    assert any(f"sending.yaml{where}" in p and message in p for p in problems), problems


def test_a_second_frequency_cap_is_an_error_pointing_at_both(tmp_path):
    from tailor.rules import RuleBook

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yaml").write_text("frequency_cap: {max: 1, per: 16h}\n", encoding="utf-8")
    (rules / "b.yaml").write_text("frequency_cap: {max: 2, per: 1d}\n", encoding="utf-8")
    [problem] = [str(p) for p in RuleBook.check(rules)]
    assert "b.yaml:1:" in problem and "declared twice" in problem and "a.yaml:1:" in problem


def test_the_link_works_without_credentials_when_every_other_route_needs_one(write_templates, tmp_path, serve):
    templates = write_templates({"news.mjml": page()})
    settings = Settings(
        templates=templates,
        rules=tmp_path,
        database_url=f"sqlite:///{tmp_path / 's.db'}",
        api_tokens=("studio-token",),
        public_url="https://mail.shop.example",
    )
    tailor = Tailor(templates, tmp_path, settings.database_url, settings=settings, create_store=True)
    url = serve(create_app(settings, tailor=tailor))
    assert requests.post(f"{url}/v1/render", json={"template": "news"}, timeout=30).status_code == 401
    token = Unsubscribe(tailor.store).token("bob@example.com")
    done = requests.post(f"{url}/v1/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}, timeout=30)
    assert done.status_code == 200
    assert tailor.store.is_suppressed(email="bob@example.com") == "unsubscribe"
