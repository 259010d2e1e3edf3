"""QA in a real browser: the template list, a render with its reasons, switching personas, the persona grid."""

from __future__ import annotations

import json
import os
import shutil

from preview_helpers import ROOT, screenshot


def expect(locator):  # imported lazily: without playwright the browser fixture skips first
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def test_list_then_render_names_the_rule_that_fired(page, studio):
    page.goto(f"{studio}/preview/")
    rows = page.locator("#template-list tbody tr")
    expect(rows).to_have_count(5)
    cart_row = page.locator("#template-list tr[data-template='cart_abandonment']")
    expect(cart_row).to_contain_text("hero")
    expect(cart_row).to_contain_text("rules/hero.yaml")
    expect(cart_row.locator(".compile")).to_contain_text("ok")
    screenshot(page, "01-template-list", full_page=True)

    cart_row.locator("a.tpl-link").click()
    page.wait_for_url("**/preview/render?template=cart_abandonment")  # loaded, its script listening
    page.select_option("#persona", "cart-abandoner")
    page.wait_for_url("**persona=cart-abandoner**")
    panel = page.locator("#decision-panel")
    hero = panel.locator(".slot[data-slot='hero']")
    expect(hero.locator(".block-name")).to_have_text("hero/cart-reminder")
    expect(hero).to_contain_text("rule cart-reminder")
    expect(hero.locator("tr.rule.matched")).to_have_attribute("data-rule", "cart-reminder")
    expect(panel.locator("tr[data-trigger='cart_abandonment']")).to_contain_text("active")
    expect(panel.locator("#recs-provider")).not_to_be_empty()
    expect(panel.locator(".checks")).to_contain_text("Gmail")
    expect(page.locator("#subject")).not_to_be_empty()
    expect(page.frame_locator("#frame-desktop").locator("body")).to_contain_text("COMEBACK10")
    expect(page.frame_locator("#frame-mobile").locator("body")).to_contain_text("COMEBACK10")
    expect(page.locator("#text-part")).to_contain_text("COMEBACK10")
    # emails are masked by default in everything the studio shows
    doc = json.loads((ROOT / "fixtures" / "personas" / "cart-abandoner.json").read_text())
    assert doc["email"] not in page.content()
    assert page.locator("#frame-desktop").bounding_box()["width"] >= 600
    assert page.locator("#frame-mobile").bounding_box()["width"] <= 380
    screenshot(page, "02-render-cart-abandoner", full_page=True)


def test_switching_persona_changes_the_hero(page, studio):
    page.goto(f"{studio}/preview/render?template=newsletter&persona=cart-abandoner")
    hero = page.locator("#decision-panel .slot[data-slot='hero'] .block-name")
    expect(hero).to_have_text("hero/cart-reminder")
    frame_text = page.frame_locator("#frame-desktop").locator("body")
    expect(frame_text).to_contain_text("basket is waiting")

    page.select_option("#persona", "vip-new-york")
    page.wait_for_url("**persona=vip-new-york**")
    expect(hero).to_have_text("hero/winter-promo")
    expect(page.locator("#decision-panel .slot[data-slot='hero'] tr.rule.matched")).to_have_attribute(
        "data-rule", "vip-new-york-winter"
    )
    # the rules above it did not match, and the panel says which condition failed
    cart_rule = page.locator("#decision-panel .slot[data-slot='hero'] tr[data-rule='cart-reminder']")
    expect(cart_rule).to_contain_text("not matched")
    expect(cart_rule).to_contain_text("triggers.cart_abandonment.active")
    expect(page.frame_locator("#frame-desktop").locator("body")).not_to_contain_text("basket is waiting")
    screenshot(page, "03-render-vip-new-york")


def test_pasted_profile_and_context(page, studio):
    page.goto(f"{studio}/preview/render?template=welcome")
    page.locator("details summary").click()
    page.fill(
        "#profile-json",
        json.dumps(
            {
                "id": "qa-1",
                "email": "qa.tester@example.com",
                "traits": {"first_name": "Quinn", "locale": "fr_FR"},
                "consents": {"personalization": True},
            }
        ),
    )
    page.fill("#context-json", '{"currency": "EUR"}')
    page.click("button[type=submit]")
    expect(page.locator(".inbox .meta")).to_contain_text("pasted profile")
    expect(page.locator("#decision-panel .slot[data-slot='hero'] .block-name")).to_have_text("hero/french")
    # what QA typed stays in the form as typed; everything rendered from it is masked
    assert "qa.tester@example.com" not in page.locator("#result").inner_html()

    page.fill("#profile-json", "{not json")
    page.click("button[type=submit]")
    expect(page.locator("#render-error")).to_contain_text("not valid JSON")


def test_persona_grid_with_differences(page, studio):
    page.goto(f"{studio}/preview/grid?template=newsletter")
    cards = page.locator("#persona-grid .card")
    expect(cards).to_have_count(9)
    expect(page.locator("#diff-table")).to_be_hidden()
    page.check("#diff-toggle")
    expect(page.locator("#diff-table")).to_be_visible()
    hero_row = page.locator("#diff-table tr[data-slot='hero']")
    expect(hero_row).to_have_class("varies")
    highlighted = page.locator("#persona-grid .chip.varies[data-slot='hero']").first
    assert highlighted.evaluate("el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"
    expect(page.locator(".card[data-persona='vip-new-york'] .chip[data-slot='hero']")).to_contain_text(
        "hero/winter-promo"
    )
    page.wait_for_timeout(500)  # thumbnails are iframes: let them paint
    screenshot(page, "04-persona-grid", full_page=True)


def test_readme_screenshot(page, studio):
    """The picture in the README and docs/preview.md: a render with its decision panel."""
    page.set_viewport_size({"width": 1680, "height": 1050})
    page.goto(f"{studio}/preview/render?template=newsletter&persona=vip-new-york")
    expect(page.locator("#decision-panel .slot[data-slot='hero'] .block-name")).to_have_text("hero/winter-promo")
    page.wait_for_timeout(300)
    shot = screenshot(page, "00-studio", type="png")
    assert shot.stat().st_size < 300 * 1024, "keep the README image small"
    if os.environ.get("TAILOR_UPDATE_SCREENSHOTS") == "1":
        # refresh the committed picture on purpose only: a test run never edits the repository
        shutil.copyfile(shot, ROOT / "docs" / "images" / "preview.png")


def test_grid_badges_a_persona_rendered_under_a_declared_fault(page, studio):
    page.goto(f"{studio}/preview/grid?template=newsletter&set=coverage")
    badge = page.locator(".card[data-persona='browse-reminder'] .count.fault")
    expect(badge).to_have_text("fault: recs-timeout")
    expect(badge).to_have_attribute(
        "title", "rendered under a declared fault: the recommendation service does not answer in time"
    )
    expect(page.locator(".card[data-persona='vip'] .count.fault")).to_have_count(0)
    assert badge.evaluate("el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"
