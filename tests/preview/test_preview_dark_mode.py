"""The studio's dark-mode preview in Chromium: a forced dark mode as Gmail and Outlook apps apply it."""

from __future__ import annotations

from preview_helpers import screenshot

FILTER_OF = """(selector) => {
  const doc = document.querySelector(selector).contentDocument;
  const img = doc.querySelector("img");
  return {
    page: getComputedStyle(doc.documentElement).filter,
    image: img ? getComputedStyle(img).filter : null,
    scheme: getComputedStyle(doc.documentElement).colorScheme,
  };
}"""


def expect(locator):  # imported lazily: without playwright the browser fixture skips first
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def test_dark_mode_inverts_the_email_but_not_its_images_and_survives_a_persona_switch(page, studio):
    page.goto(f"{studio}/preview/render?template=newsletter&persona=cart-abandoner")
    expect(page.frame_locator("#frame-desktop").locator("body")).to_contain_text("basket is waiting")
    light = page.evaluate(FILTER_OF, "#frame-desktop")
    assert light["page"] == "none" and light["image"] == "none"

    page.check("#dark-mode")
    for frame in ("#frame-desktop", "#frame-mobile"):
        dark = page.evaluate(FILTER_OF, frame)
        assert "invert(1)" in dark["page"] and "hue-rotate(180deg)" in dark["page"], dark
        assert "invert(1)" in dark["image"], "images are inverted back: they look as sent"
        assert dark["scheme"] == "dark"
    screenshot(page, "render-dark-mode", full_page=True)

    page.select_option("#persona", "vip-new-york")
    page.wait_for_url("**dark=1**")
    expect(page.locator("#dark-mode")).to_be_checked()
    expect(page.frame_locator("#frame-desktop").locator("body")).not_to_contain_text("basket is waiting")
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#frame-desktop').contentDocument.documentElement)"
        ".filter.includes('invert')"
    )

    page.uncheck("#dark-mode")
    assert page.evaluate(FILTER_OF, "#frame-desktop")["page"] == "none"
