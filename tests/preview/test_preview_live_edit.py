"""The live edit loop in a real browser: a rule edit shows within seconds,
a broken template shows its error in place."""

from __future__ import annotations

from preview_helpers import screenshot


def expect(locator):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def test_rule_edit_updates_the_open_preview(page, studio, shop):
    page.goto(f"{studio}/preview/render?template=cart_abandonment&persona=cart-abandoner")
    frame = page.frame_locator("#frame-desktop").locator("body")
    expect(frame).to_contain_text("COMEBACK10")

    hero = shop / "rules" / "hero.yaml"
    hero.write_text(hero.read_text().replace("COMEBACK10", "COMEBACK25"))
    # no reload by the test: the page polls and re-renders by itself
    expect(frame).to_contain_text("COMEBACK25", timeout=8_000)
    expect(page.locator("#decision-panel .slot[data-slot='hero'] .set")).to_contain_text("COMEBACK25")

    # a condition edit changes the block, and the panel shows the failing part with its value
    hero.write_text(
        hero.read_text().replace(
            "when: triggers.cart_abandonment.active\n    priority: 50",
            "when: \"triggers.cart_abandonment.active and profile.city == 'Paris'\"\n    priority: 50",
            1,
        )
    )
    expect(page.locator("#decision-panel .slot[data-slot='hero'] .block-name")).not_to_have_text(
        "hero/cart-reminder", timeout=8_000
    )
    cart_rule = page.locator("#decision-panel .slot[data-slot='hero'] tr[data-rule='cart-reminder']")
    expect(cart_rule).to_contain_text("not matched")
    expect(cart_rule).to_contain_text("Austin")


def test_broken_template_shows_the_error_in_place_then_recovers(page, studio, shop):
    page.goto(f"{studio}/preview/render?template=cart_abandonment&persona=cart-abandoner")
    frame = page.frame_locator("#frame-desktop").locator("body")
    expect(frame).to_contain_text("COMEBACK10")
    banner = page.locator("#live-error")
    expect(banner).to_be_hidden()

    source = shop / "templates" / "cart_abandonment.mjml"
    good = source.read_text()
    source.write_text(good.replace("</mj-body>", "{% if %}</mj-body>", 1))
    expect(banner).to_be_visible(timeout=8_000)
    expect(banner).to_contain_text("cart_abandonment.mjml")
    # the last good version keeps showing: the page is never blank
    expect(frame).to_contain_text("COMEBACK10")
    screenshot(page, "05-broken-template")

    page.goto(f"{studio}/preview/")
    row = page.locator("#template-list tr[data-template='cart_abandonment']")
    expect(row.locator(".problems")).to_contain_text("cart_abandonment.mjml")

    page.goto(f"{studio}/preview/render?template=cart_abandonment&persona=cart-abandoner")
    source.write_text(good.replace("Pick up right where", "Carry on right where"))
    expect(banner).to_be_hidden(timeout=8_000)
    expect(frame).to_contain_text("COMEBACK10")


def test_broken_rules_show_in_place(page, studio, shop):
    page.goto(f"{studio}/preview/render?template=newsletter&persona=vip-new-york")
    banner = page.locator("#live-error")
    expect(banner).to_be_hidden()
    offer = shop / "rules" / "offer.yaml"
    good = offer.read_text()
    offer.write_text(good + "\n  - id: [unclosed\n")
    expect(banner).to_be_visible(timeout=8_000)
    expect(banner).to_contain_text("offer.yaml")
    offer.write_text(good)
    expect(banner).to_be_hidden(timeout=8_000)


def test_template_broken_from_the_start_is_a_readable_message(page, shop, shop_recommender, serve):
    from preview_helpers import make_app

    (shop / "templates" / "welcome.mjml").write_text("<mjml><mj-body>{% for %}</mj-body></mjml>")
    url = serve(make_app(shop, shop_recommender))
    page.goto(f"{url}/preview/render?template=welcome&persona=new-subscriber")
    error = page.locator("#render-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("welcome.mjml")
    expect(page.locator("#live-error")).to_contain_text("welcome.mjml")
    page.goto(f"{url}/preview/")
    expect(page.locator("#template-list tr[data-template='welcome'] .compile")).to_contain_text("does not compile")
