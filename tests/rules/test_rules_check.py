"""``RuleBook.check``: one test per class of mistake, each reported as path:line:col."""

from __future__ import annotations

import pytest

from tailor.problems import ProblemError
from tailor.rules import RuleBook

GOOD = """
slot: hero
rules:
  - id: vip
    when: "'vip' in segments"
    priority: 20
    block: hero/vip
default: hero/generic
"""


def problems(rules_dir, templates_dir=None):
    return [str(p) for p in RuleBook.check(rules_dir.dir, templates_dir)]


def only(rules_dir, templates_dir=None) -> str:
    found = problems(rules_dir, templates_dir)
    assert len(found) == 1, found
    return found[0]


def test_good_file_has_no_problems(rules_dir):
    rules_dir("hero.yaml", GOOD)
    assert problems(rules_dir) == []


def test_yaml_syntax_error_with_line_and_col(rules_dir):
    path = rules_dir(
        "hero.yaml",
        """
        slot: hero
        rules:
          - id: vip
            description: VIPs: the best
            block: hero/vip
        default: hero/generic
    """,
    )
    assert only(rules_dir) == f"{path}:4:22: YAML syntax error: mapping values are not allowed here"


def test_unknown_key(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace("    priority: 20", "    priorty: 20"))
    message = only(rules_dir)
    assert message.startswith(f"{path}:5:5: rules[0]: unknown key 'priorty'")


def test_wrong_type(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace("priority: 20", "priority: high"))
    assert only(rules_dir) == f"{path}:5:15: rules[0].priority: expected integer, got string"


def test_missing_required_key(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace("    block: hero/vip\n", ""))
    assert only(rules_dir) == f"{path}:3:5: rules[0]: missing required key 'block'"


def test_bad_duration_in_trigger(rules_dir):
    path = rules_dir(
        "triggers.yaml",
        """
        triggers:
          cart_abandonment:
            on: [Product Added]
            after: one hour
    """,
    )
    assert only(rules_dir) == (
        f"{path}:4:12: triggers.cart_abandonment.after: 'one hour' is not a duration: "
        "use a duration such as 4h or 1.5d (units: s, m, h, d, w)"
    )


def test_yaml_11_booleans_do_not_eat_the_on_key(rules_dir):
    rules_dir(
        "triggers.yaml",
        """
        triggers:
          cart_abandonment: {on: [Product Added], unless: [Order Completed]}
    """,
    )
    assert problems(rules_dir) == []
    book = RuleBook.load(rules_dir.dir)
    assert book.triggers["cart_abandonment"].on == {"Product Added"}


def test_duplicate_yaml_key(rules_dir):
    path = rules_dir("hero.yaml", GOOD + "default: hero/other\n")
    assert only(rules_dir) == f"{path}:8:1: the file: duplicate key 'default'"


def test_unknown_block(rules_dir, tmp_path):
    templates = tmp_path / "templates"
    (templates / "blocks" / "hero").mkdir(parents=True)
    (templates / "blocks" / "hero" / "generic.mjml").write_text("<mj-section/>")
    path = rules_dir("hero.yaml", GOOD)
    assert only(rules_dir, templates) == f"{path}:3:5: unknown block 'hero/vip': no templates/blocks/hero/vip.mjml"
    (templates / "blocks" / "hero" / "vip.mjml").write_text("<mj-section/>")
    assert problems(rules_dir, templates) == []


def test_block_outside_the_blocks_folder(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace("block: hero/vip", "block: ../../etc/passwd"))
    assert only(rules_dir) == f"{path}:3:5: block '../../etc/passwd' must be a path under templates/blocks/"


def test_condition_syntax_error(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace(""""'vip' in segments\"""", "profile.ltv >"))
    assert only(rules_dir).startswith(f"{path}:4:11: rule 'vip': invalid condition:")


def test_multiline_condition_error_line(rules_dir):
    path = rules_dir(
        "hero.yaml", GOOD.replace(""""'vip' in segments\"""", "|\n      profile.a == 1 and\n      profile.b ===")
    )
    assert only(rules_dir).startswith(f"{path}:5:11: rule 'vip': invalid condition:")


def test_unknown_filter(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace(""""'vip' in segments\"""", "profile.city | shout == 'X'"))
    assert "No filter named 'shout'" in only(rules_dir)
    assert only(rules_dir).startswith(f"{path}:4:11:")


def test_name_no_context_provides(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace(""""'vip' in segments\"""", "user.city == 'Paris'"))
    assert only(rules_dir) == (
        f"{path}:4:11: rule 'vip': no context provides 'user' "
        "(conditions can use profile, triggers, segments, recs, context, now)"
    )


def test_duplicate_rule_ids(rules_dir):
    rules_dir("hero.yaml", GOOD)
    path = rules_dir(
        "other.yaml",
        """
        slot: footer
        rules:
          - {id: vip, priority: 1, block: footer/vip}
        default: footer/generic
    """,
    )
    assert only(rules_dir).startswith(f"{path}:3:10: duplicate rule id 'vip' (first declared at ")


def test_equal_priorities_in_one_slot(rules_dir):
    path = rules_dir(
        "hero.yaml",
        GOOD.replace(
            "default:",
            """  - id: french
    when: profile.locale == 'fr_FR'
    priority: 20
    block: hero/french
default:""",
        ),
    )
    assert only(rules_dir) == (
        f"{path}:7:5: rule 'french' has the same priority (20) as rule 'vip' "
        "in slot 'hero': which one wins would be arbitrary"
    )


def test_rule_shadowed_by_unconditional_rule(rules_dir):
    path = rules_dir(
        "hero.yaml",
        GOOD.replace(
            "default:",
            """  - id: everyone
    priority: 30
    block: hero/sale
default:""",
        ),
    )
    assert only(rules_dir) == (
        f"{path}:3:5: rule 'vip' can never match: rule 'everyone' (priority 30) always matches first"
    )


def test_when_true_also_shadows(rules_dir):
    rules_dir(
        "hero.yaml",
        GOOD.replace(
            "default:",
            """  - {id: everyone, when: true, priority: 30, block: hero/sale}
default:""",
        ),
    )
    assert "can never match" in only(rules_dir)


def test_slot_without_default(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace("default: hero/generic\n", ""))
    assert only(rules_dir) == f"{path}:1:7: slot 'hero' has no default block: add `default: hero/...`"


def test_conflicting_defaults_across_files(rules_dir):
    rules_dir("hero.yaml", GOOD)
    path = rules_dir("more.yaml", "slot: hero\ndefault: hero/other\n")
    assert (
        only(rules_dir)
        == f"{path}:2:10: slot 'hero' already has default 'hero/generic' (at {rules_dir.dir}/hero.yaml:7:10)"
    )


@pytest.mark.parametrize(
    "escape", ["''.__class__", "x.__globals__", "profile['__init__']", "profile | attr('__class__')"]
)
def test_sandbox_escape_is_reported_never_executed(rules_dir, monkeypatch, escape):
    import tailor.rules.conditions as conditions

    def refuse(*args, **kwargs):
        raise AssertionError("an escaping condition must not be compiled or run")

    monkeypatch.setattr(conditions.Condition, "_compile", refuse)
    path = rules_dir("hero.yaml", GOOD.replace(""""'vip' in segments\"""", f'"{escape}"'))
    assert f"{path}:4:11: rule 'vip': invalid condition: not allowed in the sandbox" in only(rules_dir)


def test_undeclared_trigger_is_a_warning(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace(""""'vip' in segments\"""", "triggers.cart_abandon.active"))
    found = RuleBook.check(rules_dir.dir)
    assert [str(p) for p in found] == [
        f"{path}:3:5: warning: 'vip' uses undeclared trigger 'cart_abandon' (it reads as inactive)"
    ]
    RuleBook.load(rules_dir.dir)  # warnings do not stop loading


def test_reserved_trigger_name(rules_dir):
    path = rules_dir("t.yaml", "triggers:\n  items: {on: [Product Viewed]}\n")
    assert only(rules_dir).startswith(f"{path}:2:3: trigger name 'items' is reserved")


def test_load_raises_with_every_problem(rules_dir):
    rules_dir("a.yaml", "slot: hero\nrules: [{id: x, block: hero/x, when: 'nope.x'}]\n")
    rules_dir("b.yaml", "slot: [\n")
    with pytest.raises(ProblemError) as info:
        RuleBook.load(rules_dir.dir)
    assert len(info.value.problems) == 3  # unknown name, no default, YAML syntax


def test_rules_given_as_files_and_empty_files(rules_dir):
    path = rules_dir("hero.yaml", GOOD)
    empty = rules_dir("empty.yaml", "# nothing yet\n")
    assert RuleBook.check([path, empty]) == []


def test_check_never_raises_on_odd_files(rules_dir):
    rules_dir("list.yaml", "- 1\n- 2\n")
    rules_dir("scalar.yaml", "hello\n")
    rules_dir("weird.yaml", "slot: hero\nrules: {a: 1}\ndefault: 3\n")
    rules_dir("binary.yaml", "").write_bytes(b"\xff\xfe\x00")
    found = problems(rules_dir)
    assert any("expected object, got array" in p for p in found)
    assert any("binary.yaml" in p for p in found)
