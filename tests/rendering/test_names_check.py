"""The names check on its own: what is known, what a guard excuses, what scope a name has."""

from __future__ import annotations

import pytest

from tailor.checks.names import NameChecker
from tailor.checks.vocabulary import Vocabulary, context_shape
from tailor.rendering.environment import make_environment
from tailor.rules.loader import load_files

RULES = """
profile:
  first_name: string
  nickname: {type: string, nullable: true}
products: [stock]
triggers:
  cart_abandonment: {on: [Product Added]}
segments:
  vip: {when: "profile.lifetime_value > 500"}
slot: hero
rules:
  - {id: cart, when: triggers.cart_abandonment.active, block: hero/cart, set: {discount_code: X}}
default: hero/generic
"""
ENV = make_environment(None, autoescape=True)


@pytest.fixture(scope="module")
def vocabulary(tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "shop.yaml"
    path.write_text(RULES)
    return Vocabulary.build(load_files([path]))


def findings(vocabulary, source: str, slot: str | None = "hero") -> list[tuple[int, str, str]]:
    context = context_shape({"context": ["order"]})
    names = vocabulary.top_level("news", ["hero"], context, slot)
    checker = NameChecker(names, vocabulary.segments, ENV)
    return [(f.lineno, f.severity, f.message) for f in checker.run(ENV.parse(source).body)]


@pytest.mark.parametrize(
    "source",
    [
        "{{ profile.first_name }}{{ profile.days_since_purchase | default(0, true) }}{{ profile.email }}",
        "{{ triggers.cart_abandonment['items'] | length }}{{ triggers.cart_abandonment.active }}",
        "{% for p in recs %}{{ p.title }}{{ p.stock }}{{ loop.index }}{% endfor %}",
        "{% for row in recs | batch(2) %}{{ row[0].price }}{% endfor %}",
        "{% set products = recs %}{% for p in products %}{{ p.url }}{% endfor %}",
        "{% macro card(p, size=1) %}{{ p.whatever }}{{ size }}{{ varargs }}{% endmacro %}{{ card(1) }}",
        "{% import 'm.html' as m %}{{ m.greeting(profile) }}{% from 'm.html' import x as y %}{{ y() }}",
        "{% with a = 1 %}{{ a }}{% endwith %}{% set ns = namespace(t=0) %}{% set ns.t = 1 %}{{ ns.t }}",
        "{{ discount_code }}{{ context.order.id }}{{ now.year }}{{ range(3) | list }}",
        "{% if 'vip' in segments %}{% endif %}{{ profile.get('first_name') }}",
        "{% if profile.nickname %}{{ profile.nickname }}{% endif %}{{ profile.nickname if profile.nickname }}",
        "{% if x is defined %}{{ x }}{% endif %}{{ context.coupon | default('') }}{% if y %}{{ y.z }}{% endif %}",
    ],
)
def test_known_and_guarded_names_pass(vocabulary, source):
    assert findings(vocabulary, source) == []


@pytest.mark.parametrize(
    "source,expected",
    [
        (
            "\n{{ profile.frist_name }}",
            (2, "error", "unknown name 'profile.frist_name': no profile has 'frist_name' (did you mean 'first_name'?)"),
        ),
        (
            "{% for p in recs %}{{ p.titel }}{% endfor %}",
            (1, "error", "unknown name 'p.titel': a product has no field 'titel' (did you mean 'title'?)"),
        ),
        (
            "{% if triggers.cart_abandon.active %}x{% endif %}",
            (
                1,
                "error",
                "unknown name 'triggers.cart_abandon': no trigger 'cart_abandon' is declared "
                "(did you mean 'cart_abandonment'?)",
            ),
        ),
        (
            "{{ context.coupon }}",
            (
                1,
                "error",
                "unknown name 'context.coupon': no send-time field 'coupon' is declared (declare it under "
                "`context:` in the template's settings (templates/<name>.yaml), or give it a default)",
            ),
        ),
        (
            "{% for x in recs %}{% endfor %}{{ x }}",
            (
                1,
                "error",
                "unknown name 'x' (templates can read context, discount_code, now, profile, recs, segments, triggers)",
            ),
        ),
        (
            "{{ profile.frist_name | default('') }}",
            (
                1,
                "warning",
                "'profile.frist_name' never exists: no profile has 'frist_name' (did you mean 'first_name'?)",
            ),
        ),
        (
            "{% if 'vips' in segments %}{% endif %}",
            (
                1,
                "error",
                "undeclared segment 'vips': the test is always "
                "false; declare it under `segments:` in rules/ (did you mean 'vip'?)",
            ),
        ),
    ],
)
def test_unknown_names_are_found(vocabulary, source, expected):
    assert findings(vocabulary, source) == [expected]


def test_a_trait_without_profile_and_a_dict_method_for_a_field(vocabulary):
    assert findings(vocabulary, "{{ first_name }}") == [
        (1, "error", "unknown name 'first_name' (did you mean 'profile.first_name'?)")
    ]
    assert findings(vocabulary, "{% for i in triggers.cart_abandonment.items %}{% endfor %}") == [
        (
            1,
            "error",
            "triggers.cart_abandonment.items is the dict method items(), not the field: write "
            "triggers.cart_abandonment['items']",
        )
    ]


def test_set_variables_belong_to_their_slot(vocabulary):
    assert findings(vocabulary, "{{ discount_code }}", slot="footer")[0][2].startswith("unknown name 'discount_code'")
    assert findings(vocabulary, "{{ discount_code }}", slot=None) == []  # the page sees every slot's


def test_a_nullable_trait_printed_bare(vocabulary):
    ((line, severity, message),) = findings(vocabulary, "Hi {{ profile.nickname }}")
    assert severity == "error" and message.startswith("profile.nickname is null for some recipients")
