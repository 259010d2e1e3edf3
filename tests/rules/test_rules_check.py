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
segments:
  vip: {when: true}
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
    assert only(rules_dir) == (
        f"{path}:4:22: YAML: the value of 'description' contains ': ': put it in quotes, "
        'e.g. description: "VIPs: the best"'
    )


@pytest.mark.parametrize(
    "text,line,col",
    [
        ("slot: hero\nrules:\n  - id: vip\n     block: hero/vip\n", 4, 11),
        ("slot: hero\nrules:\n  - id: vip\n   block: hero/vip\n", 4, 4),
        ("slot: hero\ndefault: hero/generic\n segments: {}\n", 3, 10),
    ],
)
def test_yaml_indentation_errors_say_indentation(rules_dir, text, line, col):
    path = rules_dir("hero.yaml", text)
    assert only(rules_dir).startswith(f"{path}:{line}:{col}: YAML: the indentation is off here")


def test_yaml_tab_indentation(rules_dir):
    path = rules_dir("hero.yaml", "slot: hero\nrules:\n\t- id: vip\n")
    assert only(rules_dir) == f"{path}:3:1: YAML: a tab is used for indentation; indent with spaces"


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


def test_a_duration_longer_than_a_century_is_reported_at_its_value(rules_dir):
    # Before: 99999999999w overflowed timedelta (a traceback from `tailor check`), and
    # 5000000w passed the check and overflowed the datetime arithmetic of every scan.
    path = rules_dir(
        "triggers.yaml",
        """
        triggers:
          cart_abandonment:
            on: [Product Added]
            after: 99999999999w
            within: 5000000w
    """,
    )
    advice = (
        "is longer than 36525 days (a century): write forever where a window may be endless, else a shorter duration"
    )
    assert problems(rules_dir) == [
        f"{path}:4:12: triggers.cart_abandonment.after: '99999999999w' {advice}",
        f"{path}:5:13: triggers.cart_abandonment.within: '5000000w' {advice}",
    ]


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
    assert only(rules_dir) == f"{path}:10:1: the file: duplicate key 'default'"


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


def test_undeclared_trigger_is_an_error_at_the_condition(rules_dir):
    rules_dir("triggers.yaml", "triggers:\n  cart_abandonment: {on: [Product Added]}\n")
    path = rules_dir("hero.yaml", GOOD.replace(""""'vip' in segments\"""", "triggers.cart_abandon.active"))
    assert only(rules_dir) == (
        f"{path}:4:11: rule 'vip' uses undeclared trigger 'cart_abandon' (it would always read as inactive)"
        " (did you mean 'cart_abandonment'?)"
    )
    with pytest.raises(ProblemError):
        RuleBook.load(rules_dir.dir)


def test_undeclared_segment_is_an_error(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace("'vip' in segments", "'knitwear_fan' in segments"))
    assert only(rules_dir) == (
        f"{path}:4:11: rule 'vip' tests undeclared segment 'knitwear_fan' (it would never match); "
        "declare it under `segments:`"
    )


def test_undeclared_segment_did_you_mean_and_cluster_labels_count(rules_dir):
    path = rules_dir("hero.yaml", GOOD.replace("'vip' in segments", "'vips' not in segments"))
    assert only(rules_dir).endswith("(did you mean 'vip'?)")
    cluster = "{model: kmeans, features: [recency], k: 2, labels: [vips, others], rank_by: recency}"
    rules_dir("clusters.yaml", f"segments:\n  rfm: {cluster}\n")
    assert problems(rules_dir) == [], path


def test_block_from_another_slots_folder(rules_dir, tmp_path):
    templates = tmp_path / "templates"
    for block in ("hero/generic", "hero/vip", "footer_offer/free-shipping"):
        (templates / "blocks" / block).parent.mkdir(parents=True, exist_ok=True)
        (templates / "blocks" / f"{block}.mjml").write_text("<mj-section/>")
    path = rules_dir("hero.yaml", GOOD.replace("block: hero/vip", "block: footer_offer/free-shipping"))
    assert only(rules_dir, templates) == (
        f"{path}:3:5: block 'footer_offer/free-shipping' is from templates/blocks/footer_offer/, "
        "another slot's folder: slot 'hero' takes blocks from templates/blocks/hero/"
    )


PROFILE = """
profile:
  first_name: string
  segment: {type: string, description: set by the CRM}
  lifetime_valeu: number
"""


def test_condition_on_a_field_no_profile_can_have(rules_dir):
    rules_dir("profile.yaml", PROFILE)
    path = rules_dir("hero.yaml", GOOD.replace("'vip' in segments", "profile.frist_name == 'Ann'"))
    assert only(rules_dir) == (
        f"{path}:4:11: rule 'vip' reads profile.frist_name, which no profile has (not in the profile schema "
        "nor a computed feature) (did you mean 'first_name'?)"
    )


def test_profile_fields_are_open_without_a_schema_and_features_always_known(rules_dir):
    rules_dir("hero.yaml", GOOD.replace("'vip' in segments", "profile.anything == 1"))
    assert problems(rules_dir) == []
    rules_dir("profile.yaml", PROFILE)
    rules_dir("hero.yaml", GOOD.replace("'vip' in segments", "profile.days_since_purchase < 3 and profile.email"))
    assert problems(rules_dir) == []


def test_profile_schema_with_a_bad_type(rules_dir):
    path = rules_dir("profile.yaml", "profile:\n  first_name: text\n")
    assert only(rules_dir).startswith(f"{path}:2:3: profile field 'first_name': type 'text' is not one of string,")


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


def test_a_trigger_or_segment_with_a_wrong_body_is_still_declared(rules_dir):
    """One mistake in a declaration is one problem: the rules reading it are not "undeclared" too."""
    rules_dir("triggers.yaml", "triggers:\n  cart_abandonment: {on: [Product Added], after: soon}\n")
    rules_dir("segments.yaml", "segments:\n  vip: {when: 3, model: kmeans}\n")
    rules_dir("hero.yaml", GOOD.replace("'vip' in segments", "triggers.cart_abandonment.active").split("segments:")[0])
    rules_dir(
        "offer.yaml", "slot: offer\nrules: [{id: o, when: \"'vip' in segments\", block: offer/x}]\ndefault: offer/y\n"
    )
    found = problems(rules_dir)
    assert len(found) == 2, found
    assert all(p.split(":")[0].endswith(("triggers.yaml", "segments.yaml")) for p in found), found
