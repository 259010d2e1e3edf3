"""Coverage personas: the committed set reaches every rule and block of the shop, and dead rules are named.

Nothing here trusts the generator's own bookkeeping: what a persona reaches is read from
real renders (``Tailor.render`` for every template).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tailor.cli import main
from tailor.core import Tailor
from tailor.preview.coverage import coverage_problems, generate, measure
from tailor.preview.personas import load_personas

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"
COVERAGE = ROOT / "fixtures" / "personas" / "coverage"


@pytest.fixture
def no_store(tmp_path, monkeypatch):
    """No store: the personas do not depend on a database that happens to be there."""
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    return f"sqlite:///{tmp_path / 'absent.db'}"


def shop(database_url: str, root: Path = ROOT) -> Tailor:
    return Tailor(root / "templates", root / "rules", database_url)


def test_committed_coverage_personas_reach_every_rule_abort_and_block_of_the_shop(no_store):
    tailor = shop(no_store)
    personas = load_personas(COVERAGE)
    reached = set()
    for document in personas.values():
        reached |= measure(tailor, document, tailor_at())
    book = tailor.rulebook
    rules = {r.id for s in book.slots.values() for r in s.rules}
    aborts = {r.id for r in book.abort_rules}
    blocks = {b for slot in book.slots for b in book.blocks_for(slot)}
    blocks |= {b for e in tailor.experiments.values() for v in e.variants for b in v.blocks.values()}
    assert rules <= {name for kind, name in reached if kind == "rule"}
    assert aborts <= {name for kind, name in reached if kind == "abort"}
    assert blocks <= {name for kind, name in reached if kind == "block"}
    assert {"no-consent", "bad-locale", "bad-timezone"} <= {name for kind, name in reached if kind == "fallback"}
    # the shop's hero slot alone has 9 outcomes and there are 2 abort rules: 11 is the least possible
    assert len(personas) == 11


def test_committed_personas_are_what_generate_writes_today(no_store, tmp_path):
    """A rules change without `tailor personas generate` leaves stale personas: this fails then."""
    result = CliRunner().invoke(main, ["personas", "generate", "--out", str(tmp_path / "out"), "--at", AT])
    assert result.exit_code == 0, result.output
    fresh = {p.name: json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")}
    committed = {p.name: json.loads(p.read_text()) for p in COVERAGE.glob("*.json")}
    assert fresh == committed
    assert (tmp_path / "out" / "README.md").read_text() == (COVERAGE / "README.md").read_text()


def test_the_shop_has_no_coverage_errors_over_its_personas(no_store):
    tailor = shop(no_store)
    personas = {**load_personas(ROOT / "fixtures" / "personas"), **load_personas(COVERAGE)}
    problems = coverage_problems(tailor, personas, AT)
    assert not [p for p in problems if p.severity == "error"]
    # only the block files nothing chooses are left to mention
    assert all("no rule, default or experiment chooses it" in p.message for p in problems), problems


def test_the_hand_written_personas_miss_the_plain_vip_hero(no_store):
    """Olivia is VIP *and* in New York, so the plain `vip` hero rule is never seen without the coverage set."""
    tailor = shop(no_store)
    problems = coverage_problems(tailor, load_personas(ROOT / "fixtures" / "personas"), AT)
    vip = [p for p in problems if "rule 'vip' (hero)" in p.message]
    assert len(vip) == 1 and vip[0].severity == "warning"
    assert vip[0].path.endswith("rules/hero.yaml") and vip[0].line == 22
    assert "`tailor personas generate` writes one" in vip[0].message


@pytest.fixture
def broken_shop(tmp_path, monkeypatch, no_store):
    """The shop with a rule on an undeclared segment and a rule always outranked by another."""
    for folder in ("templates", "rules"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    hero = tmp_path / "rules" / "hero.yaml"
    hero.write_text(
        hero.read_text().replace(
            "default: hero/generic",
            # an undeclared segment is a `tailor check` error (the rules do not load): the dead
            # rule here is one a higher-priority rule always beats
            "  - id: very-recent-buyer\n"
            "    when: profile.days_since_purchase <= 7\n"
            "    priority: 4\n"
            "    block: hero/thank-you\n"
            "\n"
            "default: hero/generic",
        )
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_generate_names_dead_rules_with_the_reason(broken_shop, no_store):
    generated = generate(shop(no_store, broken_shop), AT)
    dead = {d.target.key[1]: str(d) for d in generated.dead}
    assert set(dead) == {"very-recent-buyer"}
    assert "rule 'recent-buyer-thanks' (higher priority) matches too and wins" in dead["very-recent-buyer"]
    assert dead["very-recent-buyer"].startswith(f"{broken_shop / 'rules' / 'hero.yaml'}:")


def test_cli_generate_exits_1_on_a_dead_rule_after_writing_the_others(broken_shop):
    result = CliRunner().invoke(main, ["personas", "generate", "--out", "gen", "--at", AT])
    assert result.exit_code == 1
    assert "dead: " in result.output and "very-recent-buyer" in result.output
    assert len(list((broken_shop / "gen").glob("*.json"))) == 11
    assert "## Dead rules" in (broken_shop / "gen" / "README.md").read_text()


def test_check_coverage_fails_on_a_dead_rule_unless_allowed(broken_shop):
    shutil.copytree(COVERAGE, broken_shop / "personas")
    args = ["check", "--coverage", "--personas", "personas", "--at", AT]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    line = next(x for x in result.output.splitlines() if "very-recent-buyer" in x)
    assert line.startswith("rules/hero.yaml:51:5: dead: rule 'very-recent-buyer' (hero) can never be reached")
    allowed = CliRunner().invoke(main, [*args, "--allow-dead"])
    assert allowed.exit_code == 0, allowed.output
    assert "warning: dead: rule 'very-recent-buyer'" in allowed.output


def test_check_coverage_reports_a_malformed_persona_file_and_uses_the_rest(broken_shop):
    shutil.copytree(COVERAGE, broken_shop / "personas")
    (broken_shop / "personas" / "zz-broken.json").write_text('{"id": "x",\n  "traits": [1, }\n')
    result = CliRunner().invoke(main, ["check", "--coverage", "--allow-dead", "--personas", "personas", "--at", AT])
    assert "personas/zz-broken.json:2:" in result.output and "malformed JSON" in result.output
    assert "rule 'vip' (hero) is never reached" not in result.output  # the other files still count
    assert result.exit_code == 1


def tailor_at():
    from tailor.core import parse_at

    return parse_at(AT)
