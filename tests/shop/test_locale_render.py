"""What every recipient sees of their locale: the tab title, ``<html lang dir>``, money (issue 13).

Real renders of the example shop (and, for the macro case, a template of its own): the
title is the plain subject, ``lang``/``dir`` are the recipient's, money is written in the
recipient's locale in the email's one currency, macros included.
"""

from __future__ import annotations

import html
import re

from shop_data import ROOT, SHOP_NOW

from tailor import Tailor
from tailor.config import Settings

#: an order whose lines cost 242.50 each: the issue's "242,50 € each €485.00"
EURO_ORDER = {
    "order_id": "ORD-1",
    "currency": "EUR",
    "items": [{"title": "Merino Cardigan", "quantity": 2, "price": 242.5}],
    "subtotal": 485.0,
    "shipping": 0.0,
    "total": 485.0,
}


def _html_tag(email) -> str:
    return re.search(r"<html\b[^>]*>", email.html).group(0)


def _title(email) -> str:
    return re.search(r"<title>(.*?)</title>", email.html, re.S).group(1)


def _with_locale(personas, name: str, locale: str) -> dict:
    doc = personas[name]
    return {**doc, "traits": {**doc["traits"], "locale": locale}}


def test_the_title_is_the_plain_subject(shop, personas):
    email = shop.render("newsletter", profile=personas["french-shopper"], at=SHOP_NOW, record_exposure=False)
    assert "&amp;" in _title(email), "the subject has an ampersand: escaped once, as HTML text"
    assert html.unescape(_title(email)) == email.subject
    assert "<!--" not in html.unescape(_title(email))


def test_lang_and_dir_are_the_recipients(shop, personas):
    french = shop.render("welcome", profile=personas["french-shopper"], at=SHOP_NOW, record_exposure=False)
    assert 'lang="fr-FR"' in _html_tag(french) and 'dir="ltr"' in _html_tag(french)
    arabic = _with_locale(personas, "sparse-data", "ar_EG")
    email = shop.render("welcome", profile=arabic, at=SHOP_NOW, record_exposure=False)
    assert 'lang="ar-EG"' in _html_tag(email) and 'dir="rtl"' in _html_tag(email)
    unknown = shop.render("welcome", profile=personas["sparse-data"], at=SHOP_NOW, record_exposure=False)
    assert 'lang="und"' not in _html_tag(unknown) and 'lang="en-US"' in _html_tag(unknown)


def test_the_shops_line_total_macro_formats_like_the_page(shop, personas):
    email = shop.render(
        "order_confirmation",
        profile=personas["french-shopper"],
        at=SHOP_NOW,
        context={"order": EURO_ORDER},
        record_exposure=False,
    )
    text = html.unescape(email.html).replace("\u202f", " ").replace("\xa0", " ")
    assert "242,50 € each" in text
    assert "€485.00" not in text and "485,00 €" in text, "the macro's total in fr_FR, like the page around it"
    assert "$" not in email.text.split("Your order")[1].split("Total")[0]


def test_the_currency_comes_from_the_send_context_then_the_products_then_the_settings(personas):
    order = {**EURO_ORDER, "currency": None}
    gbp = Tailor(ROOT / "templates", ROOT / "rules", settings=Settings(currency="GBP"))
    recipient = personas["vip-new-york"]  # en_US

    def total(context):
        email = gbp.render("order_confirmation", profile=recipient, at=SHOP_NOW, context=context, record_exposure=False)
        return re.findall(r"[^\s>]*485\.00[^\s<]*", html.unescape(email.html))

    assert set(total({"order": order})) == {"£485.00"}, "nothing names one: the settings default"
    assert set(total({"order": {**order, "currency": "EUR"}})) == {"€485.00"}, "the order's own currency"
    assert set(total({"order": order, "currency": "CAD"})) == {"CA$485.00"}, "the send context's currency"


def test_macros_imported_without_context_format_with_the_callers_locale(write_templates, personas, tmp_path):
    templates = write_templates(
        {
            "macros.html": "{% macro price(x) %}{{ x | money }} / {{ 1234.5 | number }}{% endmacro %}",
            "page.mjml": """
                ---
                subject: Prices
                ---
                <mjml><mj-body><mj-section><mj-column><mj-text>
                {% import "macros.html" as m %}page {{ 9.5 | money }} macro {{ m.price(9.5) }}
                </mj-text></mj-column></mj-section></mj-body></mjml>
            """,
        }
    )
    (tmp_path / "rules").mkdir()
    shop = Tailor(templates, tmp_path / "rules")
    german = _with_locale(personas, "sparse-data", "de_DE")
    email = shop.render("page", profile=german, at=SHOP_NOW, context={"currency": "EUR"}, record_exposure=False)
    text = email.text.replace("\xa0", " ")
    assert "page 9,50 € macro 9,50 € / 1.234,5" in text


def test_the_default_currency_is_a_setting():
    from tailor.config import ConfigError

    assert Settings().currency == "USD"
    assert Settings.load(None, {"TAILOR_CURRENCY": "eur"}).currency == "EUR"
    for bad in ("euro", "E1R", ""):
        try:
            Settings().with_values(currency=bad)
        except ConfigError as exc:
            assert "ISO 4217" in str(exc)
        else:
            raise AssertionError(f"{bad!r} accepted")
