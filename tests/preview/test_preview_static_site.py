"""`tailor preview --out DIR`: a navigable static site with the same decision panel as the studio."""

from __future__ import annotations

import json

from click.testing import CliRunner
from preview_helpers import AT, screenshot


def expect(locator):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def build(shop, out, *extra):
    from tailor.cli import main

    result = CliRunner().invoke(
        main,
        [
            "preview",
            "--out",
            str(out),
            "--at",
            AT,
            "--personas",
            str(shop / "personas"),
            "--templates",
            str(shop / "templates"),
            "--rules",
            str(shop / "rules"),
            "--database-url",
            "",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return result


def test_static_export_writes_every_template_times_persona(shop, tmp_path):
    out = tmp_path / "out"
    result = build(shop, out)
    assert "wrote 45 previews" in result.output
    page = (out / "cart_abandonment" / "cart-abandoner.html").read_text()
    assert 'data-rule="cart-reminder"' in page and "hero/cart-reminder" in page
    assert 'id="decision-panel"' in page and "Gmail" in page
    assert (out / "preview.css").is_file() and (out / "cart_abandonment" / "cart-abandoner.email.html").is_file()
    email = json.loads((shop / "personas" / "cart-abandoner.json").read_text())["email"]
    assert email not in page and email not in (out / "index.html").read_text()
    build(shop, tmp_path / "shown", "--show-emails")
    assert email in (tmp_path / "shown" / "cart_abandonment" / "cart-abandoner.html").read_text()


def test_static_site_is_navigable_offline(page, shop, tmp_path):
    out = tmp_path / "out"
    build(shop, out)
    page.goto((out / "index.html").as_uri())
    expect(page.locator("#static-index tbody tr")).to_have_count(5)
    page.locator("a[href='cart_abandonment/cart-abandoner.html']").click()
    expect(page.locator("#decision-panel .slot[data-slot='hero'] .block-name")).to_have_text("hero/cart-reminder")
    expect(page.frame_locator("#frame-desktop").locator("body")).to_contain_text("COMEBACK10")
    screenshot(page, "06-static-export")
    page.locator("header a", has_text="all previews").click()
    expect(page.locator("#static-index")).to_be_visible()
