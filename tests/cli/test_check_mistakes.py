"""Each marketer mistake of issue 13 is caught by `tailor check`: exit 1, `path:line:col`, the words to fix it.

Every test breaks one thing in a copy of the example shop and asserts the exact line
`tailor check` prints for it, so a check that stops catching it, or points elsewhere,
fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tailor.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """A copy of the example shop (templates and rules, profile schema included) to break."""
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def check() -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["check"], catch_exceptions=False)
    lines = [line for line in result.output.splitlines() if line.startswith(("templates/", "rules/"))]
    return result.exit_code, [line for line in lines if line not in SHOP_WARNINGS]


#: warnings the example shop is allowed (none: its colours were darkened to pass the contrast check)
SHOP_WARNINGS: list[str] = []


def test_the_example_shop_passes(shop):
    result = CliRunner().invoke(main, ["check"], catch_exceptions=False)
    assert (result.exit_code, result.output.splitlines()[:-1]) == (0, SHOP_WARNINGS)


def test_a_typo_in_a_block(shop):
    edit(shop / "templates/blocks/hero/generic.mjml", "Hi {{ m.greeting(profile) }}", "Hi {{ profile.frist_name }}")
    assert check() == (
        1,
        [
            "templates/blocks/hero/generic.mjml:11:59: unknown name 'profile.frist_name': no profile has "
            "'frist_name' (did you mean 'first_name'?)"
        ],
    )


def test_a_typo_in_the_subject(shop):
    edit(shop / "templates/newsletter.mjml", 'subject: "{%', 'subject: "{{ profile.frist_name }}{%')
    assert check() == (
        1,
        [
            "templates/newsletter.mjml:3:14: subject: unknown name 'profile.frist_name': no profile has "
            "'frist_name' (did you mean 'first_name'?)"
        ],
    )


def test_a_guarded_typo_is_a_warning_and_a_guarded_unknown_trait_is_fine(shop):
    block = shop / "templates/blocks/hero/generic.mjml"
    edit(block, "Hi {{ m.greeting(profile) }}", "Hi {{ profile.frist_name | default('there') }}")
    edit(block, "Warm layers", "{% if profile.shoe_size is defined %}{{ profile.shoe_size }}{% endif %}Warm layers")
    assert check() == (
        0,
        [
            "templates/blocks/hero/generic.mjml:11:59: warning: 'profile.frist_name' never exists: no profile has "
            "'frist_name' (did you mean 'first_name'?)"
        ],
    )


def test_a_value_that_can_be_null_printed_without_a_default(shop):
    edit(
        shop / "templates/blocks/hero/thank-you.mjml",
        "We hope you're",
        "It's been {{ profile.days_since_purchase }} days. We hope you're",
    )
    code, lines = check()
    assert code == 1
    assert lines == [
        "templates/blocks/hero/thank-you.mjml:10:66: profile.days_since_purchase is null for some recipients "
        "(those without that data), so the text around it would read wrong: wrap it in "
        "{% if profile.days_since_purchase is not none %}…{% endif %} or give it a default, "
        "e.g. {{ profile.days_since_purchase | default('…', true) }}"
    ]


def test_a_default_that_does_not_replace_null(shop):
    edit(
        shop / "templates/blocks/hero/thank-you.mjml",
        "We hope you're",
        "It's been {{ profile.days_since_purchase | default(30) }} days. We hope you're",
    )
    code, lines = check()
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("templates/blocks/hero/thank-you.mjml:10:66: profile.days_since_purchase is null")
    assert lines[0].endswith("write profile.days_since_purchase | default(…, true)")


@pytest.mark.parametrize(
    "tag,col,expected",
    [
        (
            "{{FirstName}}",
            60,
            "{{ FirstName }} looks like a merge tag from another tool and prints nothing: in tailor write "
            "{{ profile.first_name | default('') }}",
        ),
        (
            "[[FirstName]]",
            58,
            "[[FirstName]] is a merge tag from another tool and would be sent as it is: in tailor write "
            "{{ profile.first_name | default('') }}",
        ),
        (
            "*|FNAME|*",
            58,
            "*|FNAME|* is a merge tag from Mailchimp and would be sent as it is: in tailor write "
            "{{ profile.first_name | default('') }}",
        ),
        (
            "%%First Name%%",
            58,
            "%%First Name%% is a merge tag from Salesforce Marketing Cloud and would be sent as it is: "
            "in tailor write {{ profile.first_name | default('') }}",
        ),
        (
            "{$last_name}",
            58,
            "{$last_name} is a merge tag from another tool and would be sent as it is: in tailor write "
            "{{ profile.last_name | default('') }}",
        ),
    ],
)
def test_merge_tags_from_other_tools(shop, tag, col, expected):
    edit(shop / "templates/blocks/hero/generic.mjml", "Hi {{ m.greeting(profile) }}", f"Dear {tag}")
    assert check() == (1, [f"templates/blocks/hero/generic.mjml:11:{col}: {expected}"])


def test_an_undeclared_segment_in_a_rule(shop):
    edit(shop / "rules/hero.yaml", "when: \"'vip' in segments\"", "when: \"'knitwear_fan' in segments\"")
    assert check() == (
        1,
        [
            "rules/hero.yaml:23:11: rule 'vip' tests undeclared segment 'knitwear_fan' (it would never match); "
            "declare it under `segments:`"
        ],
    )


def test_an_undeclared_segment_in_a_template(shop):
    edit(
        shop / "templates/blocks/hero/generic.mjml",
        "Warm layers",
        "{% if 'knitwear_fans' in segments %}Knits{% endif %}Warm layers",
    )
    assert check() == (
        1,
        [
            "templates/blocks/hero/generic.mjml:10:101: undeclared segment 'knitwear_fans': the test is always "
            "false; declare it under `segments:` in rules/"
        ],
    )


def test_a_hero_rule_with_a_footer_block(shop):
    edit(shop / "rules/hero.yaml", "block: hero/welcome", "block: footer_offer/free-shipping")
    assert check() == (
        1,
        [
            "rules/hero.yaml:43:5: block 'footer_offer/free-shipping' is from templates/blocks/footer_offer/, "
            "another slot's folder: slot 'hero' takes blocks from templates/blocks/hero/"
        ],
    )


def test_a_trigger_typo_in_a_rule_is_an_error(shop):
    edit(shop / "rules/hero.yaml", "when: triggers.browse_abandonment.active", "when: triggers.cart_abandon.active")
    assert check() == (
        1,
        [
            "rules/hero.yaml:13:11: rule 'browse-reminder' uses undeclared trigger 'cart_abandon' (it would always "
            "read as inactive) (did you mean 'cart_abandonment'?)"
        ],
    )


def test_a_trigger_typo_in_a_template_is_an_error_even_when_tested(shop):
    edit(
        shop / "templates/blocks/hero/cart-reminder.mjml",
        "{% set cart_trigger = triggers.cart_abandonment %}",
        "{% set cart_trigger = triggers.cart_abandonment if triggers.cart_abandon.active else {} %}",
    )
    assert check() == (
        1,
        [
            "templates/blocks/hero/cart-reminder.mjml:4:52: unknown name 'triggers.cart_abandon': no trigger "
            "'cart_abandon' is declared (did you mean 'cart_abandonment'?)"
        ],
    )


def test_a_condition_on_a_field_no_profile_can_have(shop):
    edit(shop / "rules/hero.yaml", "when: profile.locale.startswith('fr')", "when: profile.loclae == 'fr'")
    assert check() == (
        1,
        [
            "rules/hero.yaml:29:11: rule 'french-locale' reads profile.loclae, which no profile has (not in the "
            "profile schema nor a computed feature) (did you mean 'locale'?)"
        ],
    )


def test_undeclared_context_field_needs_a_declaration_or_a_default(shop):
    block = shop / "templates/blocks/hero/generic.mjml"
    edit(block, "Hi {{ m.greeting(profile) }}", "Hi {{ context.coupon }}")
    code, lines = check()
    assert code == 1
    assert lines == [
        "templates/blocks/hero/generic.mjml:11:59: unknown name 'context.coupon': no send-time field 'coupon' is "
        "declared (declare it under `context:` in the template's settings (templates/<name>.yaml), or give it a "
        "default)"
    ]  # once, though five templates include the block
    for name in ("browse_abandonment", "cart_abandonment", "newsletter", "order_confirmation", "welcome"):
        (shop / f"templates/{name}.yaml").write_text("context: [coupon]\n")
    assert check() == (0, [])


def test_loop_variables_macro_arguments_and_product_fields(shop):
    block = shop / "templates/blocks/hero/generic.mjml"
    edit(
        block,
        "Hi {{ m.greeting(profile) }}",
        "{% macro card(p, size=2) %}{{ p.anything }}{{ size }}{% endmacro %}"
        "{% for product in recs %}{{ product.titel }}{{ loop.index }}{{ card(product) }}{% endfor %}",
    )
    assert check() == (
        1,
        [
            "templates/blocks/hero/generic.mjml:11:148: unknown name 'product.titel': a product has no field "
            "'titel' (did you mean 'title'?)"
        ],
    )


def test_set_variables_of_the_slot_rules_are_known(shop):
    # hero/cart-reminder prints discount_code, set by the hero rule `cart-reminder`
    edit(shop / "rules/hero.yaml", "set: {discount_code: COMEBACK10}", "set: {discount: COMEBACK10}")
    code, lines = check()
    assert code == 0, lines  # the block guards it: {% if discount_code %}
    edit(shop / "templates/blocks/hero/cart-reminder.mjml", "{% if discount_code %}", "{% if true %}")
    code, lines = check()
    assert code == 1
    assert lines[0].startswith("templates/blocks/hero/cart-reminder.mjml:")
    assert "unknown name 'discount_code' (did you mean 'discount'?)" in lines[0]


@pytest.mark.parametrize(
    "block,old,new,expected",
    [
        (
            "hero/generic",
            "Hi {{ m.greeting(profile) }}",
            "{% if profile.first_name %}Hi {{ m.greeting(profile) }}",
            "templates/blocks/hero/generic.mjml:11:53: {% if %} is never closed: add {% endif %}",
        ),
        (
            "hero/generic",
            "Hi {{ m.greeting(profile) }}",
            "Hi {{ profile.first_name | titel }}",
            "templates/blocks/hero/generic.mjml:11:80: unknown filter 'titel' (did you mean 'title'?)",
        ),
        (
            "hero/generic",
            "Warm layers, quiet colour</mj-text>",
            "Warm layers, quiet colour",
            "templates/blocks/hero/generic.mjml:10:5: <mj-text> is never closed: add </mj-text> before <mj-text>",
        ),
    ],
)
def test_errors_in_a_block_once_at_the_block(shop, block, old, new, expected):
    edit(shop / f"templates/blocks/{block}.mjml", old, new)
    assert check() == (1, [expected])


def test_yaml_indentation_is_named(shop):
    edit(shop / "rules/hero.yaml", "    priority: 50", "     priority: 50")
    code, lines = check()
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("rules/hero.yaml:7:14: YAML: the indentation is off here")


def test_bootstrap_profile_writes_the_schema_from_personas(shop, tmp_path):
    (shop / "rules/profile.yaml").unlink()
    personas = tmp_path / "personas"
    personas.mkdir()
    (personas / "a.json").write_text('{"id": "a", "traits": {"first_name": "Ann", "vip_since": null, "age": 3}}')
    (personas / "b.json").write_text('{"id": "b", "traits": {"first_name": "Bo", "vip_since": "2026-01-02"}}')
    (personas / "broken.json").write_text("{")
    result = CliRunner().invoke(main, ["check", "--bootstrap-profile", "--personas", str(personas)])
    assert result.exit_code == 1, result.output  # the shop reads traits these personas do not have
    written = (shop / "rules/profile.yaml").read_text()
    assert "  age: number\n  first_name: string\n  vip_since:\n    type: date\n    nullable: true\n" in written
    # the conditions are now checked against it: the CRM's `segment` trait is in no persona
    assert "segment 'vip' reads profile.segment, which no profile has" in result.output


def test_a_broken_rule_file_is_one_problem_not_a_cascade(shop):
    # the file that declares the triggers: every rule and block reading them must not be reported too
    edit(shop / "rules/triggers.yaml", "    after: 1h", "   after: 1h")
    code, lines = check()
    assert code == 1
    assert lines == [
        "rules/triggers.yaml:8:4: YAML: the indentation is off here: keys of one mapping (and the '-' of one list) "
        "must line up exactly, with spaces (expected <block end>, but found '<block mapping start>')"
    ]
