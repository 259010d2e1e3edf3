"""The sandbox holds against hostile templates; filters format for the recipient."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from jinja2.sandbox import SecurityError

from tailor.rendering.environment import OutputTooLarge, make_environment, render_capped
from tailor.rendering.fallbacks import collecting_fallbacks
from tailor.rendering.formatting import Formatting, formatting_as
from tailor.sandbox import ResourceLimitError


@pytest.fixture
def env():
    return make_environment(None, autoescape=True)


def render(env, source, formatting: Formatting | None = None, **ctx):
    with formatting_as(formatting or Formatting()):
        return render_capped(env.from_string(source), ctx)


@pytest.mark.parametrize("source", ["{{ 'x' * 10**7 }}", "{{ [1] * 10**7 }}", "{{ 2 ** 100000 }}"])
def test_resource_caps(env, source):
    with pytest.raises(ResourceLimitError):
        render(env, source)


def test_small_operations_still_work(env):
    assert render(env, "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 'a' ~ 'b' }} {{ 1 + 2 }}") == "ababab 1024 ab 3"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ profile.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{% set x = profile.update({'a': 1}) %}",
    ],
)
def test_sandbox_escapes_are_refused(env, source):
    """Unsafe attributes read as undefined (render nothing) or raise SecurityError."""
    try:
        out = render(env, source, profile={"a": 0})
    except SecurityError:
        return
    assert out == ""


def test_mutation_is_refused(env):
    with pytest.raises(SecurityError):
        render(env, "{{ items.append(1) }}", items=[])


def test_output_size_cap(env):
    with pytest.raises(OutputTooLarge):
        render_capped(env.from_string("{% for i in range(3000) %}{{ 'y' * 1000 }}{% endfor %}"), {}, limit=1_000_000)


def ctx(locale="en_US", tz="UTC", currency="USD"):
    return {"formatting": Formatting(locale=locale, timezone=ZoneInfo(tz), currency=currency)}


@pytest.mark.parametrize(
    "locale,currency,expected",
    [
        ("en_US", "USD", "$1,234.50"),
        ("fr_FR", "EUR", "1\u202f234,50\xa0€"),
        ("de_DE", "EUR", "1.234,50\xa0€"),
    ],
)
def test_money_by_locale(env, locale, currency, expected):
    assert render(env, "{{ 1234.5 | money }}", **ctx(locale, currency=currency)) == expected


def test_money_with_missing_value_records_fallback(env):
    with collecting_fallbacks() as fallbacks:
        assert render(env, "[{{ product.price | money }}]", product={}, **ctx()) == "[]"
    assert fallbacks[0]["reason"] == "missing-number"


def test_money_with_unknown_format_falls_back_to_standard(env):
    with collecting_fallbacks() as fallbacks:
        assert render(env, "{{ 12 | money(format_type='fancy') }}", **ctx()) == "$12.00"
    assert [f["reason"] for f in fallbacks] == ["bad-currency-format"]


def test_number_and_percent(env):
    assert render(env, "{{ 12345.678 | number(1) }} {{ 0.15 | percent }}", **ctx("fr_FR")) == "12\u202f345,7 15\xa0%"


def test_dates_in_recipient_time_zone(env):
    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert render(env, "{{ t | date('yyyy-MM-dd') }}", t=late, **ctx(tz="Europe/Paris")) == "2026-11-24"
    assert render(env, "{{ t | date('yyyy-MM-dd') }}", t=late, **ctx(tz="America/New_York")) == "2026-11-23"
    assert render(env, "{{ t | datetime('HH:mm') }}", t="2026-11-23T23:30:00Z", **ctx(tz="Asia/Tokyo")) == "08:30"
    assert render(env, "{{ t | date('long') }}", t=late, **ctx("fr_FR", tz="Europe/Paris")) == "24 novembre 2026"


@pytest.mark.parametrize(
    "source,expected",
    [
        ("{{ n }} item{{ n | pluralize }}", {1: "1 item", 2: "2 items", 0: "0 items"}),
        ("{{ n }} cherr{{ n | pluralize('y,ies') }}", {1: "1 cherry", 3: "3 cherries"}),
        ("{{ n }} {{ n | pluralize('person', 'people') }}", {1: "1 person", 5: "5 people"}),
    ],
)
def test_pluralize(env, source, expected):
    for n, text in expected.items():
        assert render(env, source, n=n) == text


def test_truncate_title_default(env):
    out = render(
        env,
        "{{ 'a very long product name here' | truncate(15) }}|{{ 'wool coat' | title }}"
        "|{{ missing | default('there') }}",
    )
    assert out == "a very long...|Wool Coat|there"


def test_utm_filter_merges_template_params(env):
    out = render(
        env,
        "{{ 'https://x.example/p?a=1' | utm(utm_content='hero') }}",
        formatting=Formatting(utm={"utm_source": "tailor", "utm_medium": "email"}),
    )
    assert out == "https://x.example/p?a=1&amp;utm_source=tailor&amp;utm_medium=email&amp;utm_content=hero"
    assert (
        render(env, "{{ 'mailto:a@example.com' | utm }}", formatting=Formatting(utm={"utm_source": "t"}))
        == "mailto:a@example.com"
    )


def test_unsubscribe_links_are_not_tagged():
    from tailor.rendering.filters import tag_url

    params = {"utm_source": "tailor"}
    assert tag_url("https://x.example/unsubscribe?u=1", params) == "https://x.example/unsubscribe?u=1"
    assert tag_url("https://x.example/p#top", params) == "https://x.example/p?utm_source=tailor#top"
    assert tag_url("https://x.example/p?utm_source=esp", params) == "https://x.example/p?utm_source=esp"


def test_dict_data_wins_over_dict_methods(env):
    assert render(env, "{% for i in order.items %}{{ i }}{% endfor %}", order={"items": [1, 2]}) == "12"
    assert render(env, "{{ order['items'] | default('none') }}", order={}) == "none"
    assert render(env, "{% for k, v in d.items() %}{{ k }}={{ v }}{% endfor %}", d={"a": 1}) == "a=1"


def test_macros_emit_text_in_the_text_part(write_templates):
    from tailor.rendering.compiler import Compiler

    root = write_templates(
        {
            "partials/m.html": "{% macro badge(x) %}<strong style='color:#f00'>{{ x }}</strong>{% endmacro %}",
            "t.mjml": """
            <mjml><mj-head><mj-title>T</mj-title></mj-head><mj-body>
            {% import "partials/m.html" as m %}
            <mj-section><mj-column><mj-text>Now {{ m.badge('New') }} in</mj-text></mj-column></mj-section>
            </mj-body></mjml>
        """,
        }
    )
    parts = Compiler(root).get("t").render({}, {})
    assert "<strong" in parts.html and "New" in parts.html
    assert "New" in parts.text and "<strong" not in parts.text


class Card:
    def __init__(self) -> None:
        self.title = "Linen"
        self._secret = "hidden"
        self.label = "{:>200000}".format  # a bound str.format, under an attribute of another name


class LooksLikeCard(Card):
    """An object whose ``__class__`` is not its type (as proxies do)."""

    @property  # type: ignore[misc]
    def __class__(self):
        return list


def test_remembered_safe_attributes_keep_every_check(env):
    """A safe read is remembered per (type, attribute); the other attributes are still refused,
    and a ``str.format`` read after its attribute was found safe is still capped."""
    source = "{% for _ in range(3) %}{{ card.title }}{{ card._secret }}{{ items.index(2) }}{% endfor %}"
    assert render(env, source, card=Card(), items=[1, 2]) == "Linen1" * 3
    assert (Card, "title") in env.safe_attributes
    assert (Card, "_secret") not in env.safe_attributes
    with pytest.raises(SecurityError):
        render(env, "{% for _ in range(3) %}{{ items.index(1) }}{{ items.append(1) }}{% endfor %}", items=[1])
    with pytest.raises(ResourceLimitError):
        render(env, "{% for _ in range(3) %}{{ s.format }}{{ s.format('x') }}{% endfor %}", s="{:>200000}")
    with pytest.raises(ResourceLimitError):
        render(env, "{% for _ in range(3) %}{{ card.label('x') }}{% endfor %}", card=Card())
    # an object that says it is a list is asked every time (a list's append is refused)
    proxy = LooksLikeCard()
    assert render(env, "{{ card.title }}", card=proxy) == "Linen"
    assert (LooksLikeCard, "title") not in env.safe_attributes


def test_list_and_tuple_items(env):
    """``row[0]`` reads the item; a missing index or a method name by subscript is not data."""
    assert render(env, "{{ row[0] }}|{{ row[5] }}|{{ pair[1] }}|{{ row['append'] }}", row=[1], pair=(1, 2)) == "1||2|"
    with pytest.raises(SecurityError):
        render(env, "{{ row['append'](2) }}", row=[1])


def test_imports_see_the_importers_own_globals(write_templates):
    """A part rendered on a context that holds its globals (``with_globals``) imports macro files as
    Jinja would: a template with globals of its own hands them to the macro file it imports."""
    from tailor.rendering.environment import with_globals

    root = write_templates({"partials/m.html": "{% macro brand() %}{{ shop }}{% endmacro %}"})
    env = make_environment(root, autoescape=True)
    source = '{% import "partials/m.html" as m %}{{ m.brand() }}'
    own = env.from_string(source, globals={"shop": "Linden"})
    assert render_capped(own, with_globals(own, {}), with_globals=True) == "Linden"
    plain = env.from_string(source)
    assert render_capped(plain, with_globals(plain, {"shop": "ignored"}), with_globals=True) == ""
