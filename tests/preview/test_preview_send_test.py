"""The studio's "Send a test" button in Chromium: the rendered email reaches the seed list over real SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from preview_helpers import AT

from smtp_server import SmtpServer

SEEDS = ("qa-lead@shop.example", "designer@shop.example")


def expect(locator):  # imported lazily: without playwright the browser fixture skips first
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def studio_with_smtp(shop: Path, recommender: Any, serve, **settings: Any) -> str:
    from tailor import Tailor
    from tailor.config import Settings
    from tailor.web import create_app

    config = Settings(
        templates=shop / "templates", rules=shop / "rules", database_url=f"sqlite:///{shop / 'studio.db'}"
    ).with_values(smtp_from="Shop QA <qa@shop.example>", **settings)
    tailor = Tailor(
        shop / "templates",
        shop / "rules",
        config.database_url,
        settings=config,
        recommender=recommender,
        create_store=True,
    )
    app = create_app(config, tailor=tailor)
    app.config.update({"TAILOR_PERSONAS": str(shop / "personas"), "TAILOR_PREVIEW_AT": AT})
    return serve(app)


def test_send_a_test_delivers_the_rendered_email_to_each_seed(page, shop, shop_recommender, serve, smtp):
    url = studio_with_smtp(shop, shop_recommender, serve, smtp_url=smtp.url, test_recipients=",".join(SEEDS))
    page.goto(f"{url}/preview/render?template=cart_abandonment&persona=cart-abandoner")
    subject = page.locator("#subject").inner_text()
    page.click("#send-test")
    status = page.locator("#send-test-status")
    expect(status).to_have_attribute("data-state", "sent")
    expect(status).to_contain_text("sent to")
    assert "qa-lead@shop.example" not in status.inner_text()  # seeds are masked on screen
    assert sorted(str(m["To"]) for m in smtp.mailbox.messages) == sorted(SEEDS)
    for message in smtp.mailbox.messages:
        assert str(message["Subject"]) == "[TEST] " + subject
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    # the persona's own address never receives a test
    assert all("@example.com" not in str(m["To"]) for m in smtp.mailbox.messages)
    page.click("#send-test")  # a second click is a second test, by design
    expect(status).to_have_attribute("data-state", "sent")
    assert len(smtp.mailbox.messages) == 2 * len(SEEDS)


def test_without_a_seed_list_the_button_says_what_to_configure(page, shop, shop_recommender, serve, smtp):
    url = studio_with_smtp(shop, shop_recommender, serve, smtp_url=smtp.url)
    page.goto(f"{url}/preview/render?template=welcome&persona=cart-abandoner")
    page.click("#send-test")
    status = page.locator("#send-test-status")
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text("TAILOR_TEST_RECIPIENTS")
    assert smtp.mailbox.messages == []
