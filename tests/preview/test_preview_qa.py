"""The studio for QA, in Chromium: persona sets, counts per card, editable ESP context, variants,
a broken persona file, the sender, the diff against the last commit and the audience dry run."""

from __future__ import annotations

import json
import re
import subprocess

from preview_helpers import ROOT, make_app, screenshot

from tailor.preview.panel import email_checks


def expect(locator):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def test_grid_shows_the_coverage_set_with_warning_and_fallback_counts(page, studio):
    page.goto(f"{studio}/preview/grid?template=newsletter")
    page.select_option("#persona-set", "coverage")
    page.wait_for_url("**set=coverage**")
    cards = page.locator("#persona-grid .card")
    expect(cards).to_have_count(11)
    # the abort personas are refused, with the rule's reason, and nothing else is
    expect(page.locator("#persona-grid .card.failed")).to_have_count(2)
    expect(page.locator(".card[data-persona='abort-no-email-address'] .render-error")).to_contain_text(
        "the recipient has no email address"
    )
    expect(page.locator(".card[data-persona='abort-cart-already-converted'] .render-error")).to_contain_text(
        "the cart is no longer abandoned"
    )
    # the persona without personalization consent took that fallback, and the card counts it
    french = page.locator(".card[data-persona='french-locale']")
    fallbacks = int(french.locator(".count.fallbacks").get_attribute("data-count"))
    assert fallbacks >= 1
    expect(french.locator(".count.fallbacks")).to_have_attribute("title", re.compile("no-consent"))
    # the warning count is the number of email checks that are not ok, as the render page lists them
    from tailor import Tailor

    tailor = Tailor(ROOT / "templates", ROOT / "rules", None)
    doc = json.loads((ROOT / "fixtures" / "personas" / "coverage" / "vip.json").read_text())
    email = tailor.render("newsletter", profile=doc, at="2026-11-23T12:00:00Z", record_exposure=False)
    warnings = sum(1 for c in email_checks(email.html) if not c.ok)
    expect(page.locator(".card[data-persona='vip'] .count.warnings")).to_have_attribute("data-count", str(warnings))
    expect(page.locator(".card[data-persona='vip'] .chip[data-slot='hero']")).to_contain_text("hero/vip")
    screenshot(page, "qa-01-coverage-grid", full_page=True)


def test_grid_context_is_editable_and_applies_to_every_persona(page, studio):
    page.goto(f"{studio}/preview/grid?template=newsletter")
    expect(page.locator("#persona-grid .card.failed")).to_have_count(0)
    page.locator(".grid-context summary").click()
    page.fill("#grid-context", json.dumps({"campaign": "cart_abandonment"}))
    page.locator("form.render-form button[type=submit]").click()
    page.wait_for_url("**context=**")
    # the abort rule on context.campaign now skips everyone whose cart is not waiting
    expect(page.locator(".card[data-persona='cart-abandoner']")).not_to_have_class(re.compile("failed"))
    expect(page.locator(".card[data-persona='new-subscriber'] .render-error")).to_contain_text(
        "the cart is no longer abandoned"
    )
    expect(page.locator("#grid-context")).to_have_value('{"campaign": "cart_abandonment"}')


def test_an_experiment_variant_can_be_chosen_and_previewed(page, studio):
    page.goto(f"{studio}/preview/render?template=newsletter&persona=sparse-data")
    hero = page.locator("#decision-panel .slot[data-slot='hero'] .block-name")
    page.select_option("#variant", "winter-hero:gift-guide")
    with page.expect_navigation(url="**variant=winter-hero%3Agift-guide**"):
        page.locator("#render-form button[type=submit]").click()
    expect(page.frame_locator("#frame-desktop").locator("body")).to_contain_text("Gifts they will keep for years")
    expect(page.locator("#variant")).to_have_value("winter-hero:gift-guide")
    page.select_option("#variant", "winter-hero:control")
    with page.expect_navigation(url="**variant=winter-hero%3Acontrol**"):
        page.locator("#render-form button[type=submit]").click()
    expect(hero).to_have_text("hero/generic")
    expect(page.frame_locator("#frame-desktop").locator("body")).not_to_contain_text("Gifts they will keep for years")
    # the grid too: every persona without a targeted hero shows the variant's block
    page.goto(f"{studio}/preview/grid?template=newsletter&variant=winter-hero:gift-guide")
    expect(page.locator(".card[data-persona='sparse-data'] .chip[data-slot='hero']")).to_contain_text("hero/gift-guide")
    expect(page.locator(".card[data-persona='cart-abandoner'] .chip[data-slot='hero']")).to_contain_text(
        "hero/cart-reminder"
    )


def test_a_malformed_persona_file_is_reported_and_skipped(page, studio, shop):
    (shop / "personas" / "aa-broken.json").write_text('{"id": "x",\n  "traits": {"first_name": "Ann",}\n}\n')
    (shop / "personas" / "ab-not-a-profile.json").write_text('{"id": "y", "traits": ["not", "an", "object"]}\n')
    page.goto(f"{studio}/preview/grid?template=welcome")
    expect(page.locator("#persona-grid .card")).to_have_count(9)
    error = page.locator("#persona-error")
    expect(error).to_contain_text("aa-broken.json:2:")
    expect(error).to_contain_text("malformed JSON")
    expect(error).to_contain_text("ab-not-a-profile.json:1:1: not a profile document: /traits: must be an object")
    page.goto(f"{studio}/preview/render?template=welcome&persona=vip-new-york")
    expect(page.locator("#persona option")).to_have_count(10)  # 9 personas and "—"
    expect(page.locator("#persona-error")).to_contain_text("(skipped)")
    expect(page.locator("#subject")).not_to_be_empty()


def test_the_sender_name_comes_from_the_settings(page, shop, shop_recommender, serve):
    app = make_app(shop, shop_recommender)
    settings = app.extensions["tailor.preview"].tailor.settings
    sender = "Knit & Purl <news@knit.example>"
    # TAILOR_SMTP_FROM (the delivery settings' ``smtp_from``), set on the running app's settings
    object.__setattr__(settings, "smtp_from", sender)
    base = serve(app)
    page.goto(f"{base}/preview/render?template=welcome&persona=new-subscriber")
    expect(page.locator("#sender")).to_have_text("Knit & Purl")


def test_the_diff_view_shows_what_changed_since_the_last_commit(page, studio, shop):
    def git(*args):
        subprocess.run(["git", *args], cwd=shop, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=qa", "-c", "user.email=qa@example.com", "add", "templates", "rules")
    git("-c", "user.name=qa", "-c", "user.email=qa@example.com", "commit", "-qm", "shop")
    page.goto(f"{studio}/preview/diff?template=newsletter")
    expect(page.locator("#diff-summary")).to_have_text("0 of 9 personas see a different email")
    generic = shop / "templates" / "blocks" / "hero" / "generic.mjml"
    text = generic.read_text()
    assert "</mj-text>" in text
    generic.write_text(text.replace("</mj-text>", " Free returns all winter.</mj-text>", 1))
    # the diff page polls the studio's version each second and reloads itself on a change (a
    # reload of our own raced that one: net::ERR_ABORTED); its own reload is what is awaited
    changed = page.locator(".persona-diff[data-status='changed']")
    expect(changed.first).to_be_visible(timeout=30_000)
    sparse = page.locator(".persona-diff[data-persona='sparse-data']")
    expect(sparse).to_have_attribute("data-status", "changed")
    expect(sparse.locator(".unified-diff .add")).to_contain_text(["Free returns all winter."])
    # a persona with a targeted hero does not see the generic block: unchanged
    expect(page.locator(".persona-diff[data-persona='cart-abandoner']")).to_have_attribute("data-status", "unchanged")
    expect(sparse.frame_locator("iframe.after").locator("body")).to_contain_text("Free returns all winter.")
    expect(sparse.frame_locator("iframe.before").locator("body")).not_to_contain_text("Free returns all winter.")
    screenshot(page, "qa-02-diff", full_page=True)


def test_the_audience_page_reports_reach_fallbacks_aborts_and_rules_never_matched(page, studio):
    page.goto(f"{studio}/preview/audience?template=newsletter&source=personas&set=coverage")
    report = page.locator("#audience-report")
    expect(report).to_have_attribute("data-recipients", "11")
    expect(page.locator("#audience-summary")).to_have_text("10 rendered · 1 skipped · 0 failed")
    expect(page.locator("#reach tr[data-block='hero/vip'] .n")).to_have_text("1")
    expect(page.locator("#aborts")).to_contain_text("the recipient has no email address")
    expect(page.locator("#fallback-rates tr[data-fallback='no-consent'] .n")).to_have_text("1")
    # one context for the whole campaign: the persona file's own context is not a campaign's
    expect(page.locator("#never-matched li[data-rule='cart-already-converted']")).to_have_count(1)
    screenshot(page, "qa-03-audience", full_page=True)


def test_the_diff_view_has_a_screenshot_diff_that_is_black_where_nothing_changed(page, studio, shop):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=qa", "-c", "user.email=qa@example.com", *args], cwd=shop, check=True)

    git("init", "-q")
    git("add", "templates", "rules")
    git("commit", "-qm", "shop")
    generic = shop / "templates" / "blocks" / "hero" / "generic.mjml"
    generic.write_text(generic.read_text().replace("Warm layers, quiet colour", "Big red winter SALE", 1))
    page.goto(f"{studio}/preview/diff?template=newsletter")
    sparse = page.locator(".persona-diff[data-persona='sparse-data']")
    expect(sparse).to_have_attribute("data-status", "changed")
    overlay = sparse.locator(".pixel-diff")
    expect(overlay.frame_locator("iframe.over").locator("body")).to_contain_text("Big red winter SALE")
    page.wait_for_timeout(500)  # let both frames paint their images' placeholders
    assert lit_pixels(overlay.screenshot()) > 200  # the changed headline shows through the difference blend
    # the same email on both sides: the blend is black everywhere
    page.evaluate(
        "el => { const [u, o] = el.querySelectorAll('iframe'); o.srcdoc = u.srcdoc; }", overlay.element_handle()
    )
    expect(overlay.frame_locator("iframe.over").locator("body")).not_to_contain_text("Big red winter SALE")
    page.wait_for_timeout(500)
    assert lit_pixels(overlay.screenshot()) == 0


def lit_pixels(png: bytes, margin: int = 2) -> int:
    """Pixels that are not black in a screenshot (Chromium writes 8-bit RGB(A), non-interlaced PNGs).

    ``margin`` rows and columns at the edges are left out: an element's box is fractional, so
    the screenshot's edge shows a line of the page around it.
    """
    import struct
    import zlib

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        header = data if kind == b"IHDR" else header
        if kind == b"IDAT":
            chunks.append(data)
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * channels
    previous, lit = bytearray(stride), 0
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        if margin <= y < height - margin:
            inner = range(margin * channels, stride - margin * channels, channels)
            lit += sum(1 for x in inner if any(line[x : x + 3]))
        previous = line
    return lit
