"""The Workspace: serving, `tailor check`, the studio and /healthz read the same objects."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from file_edits import edit
from tailor import Tailor
from tailor.problems import ProblemError
from tailor.watch import FolderWatch
from tailor.web.ops import health
from tailor.workspace import RULES, Workspace

ROOT = Path(__file__).resolve().parents[2]

RECS = "recs:\n  filters:\n    exclude_categories: [Socks]\n    max_per_category: 2\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    return tmp_path


def tailor_over(shop: Path) -> Tailor:
    tailor = Tailor(shop / "templates", shop / "rules")
    tailor.workspace.watch.recheck_seconds = 0
    return tailor


def test_a_recs_section_in_any_rule_file_is_served_and_checked(shop):
    """The bug this replaced: check read `recs:` in every file, serving only rules/recs.yaml."""
    edit(shop / "rules" / "merchandising.yaml", RECS)
    tailor = tailor_over(shop)
    assert tailor.check() == []
    served = tailor.recommender.filters
    assert served is tailor.workspace.recs_filters
    assert served.default.exclude_categories == frozenset({"socks"}) and served.default.max_per_category == 2

    edit(shop / "rules" / "merchandising.yaml", RECS.replace("max_per_category: 2", "max_per_category: -1"))
    (problem,) = tailor.check()
    assert (Path(problem.path).name, problem.line) == ("merchandising.yaml", 4)
    assert "max_per_category" in problem.message
    # a broken edit: the last good filters keep serving, and the one registry says why
    assert tailor.recommender.filters is served
    assert [p.line for p in tailor.workspace.broken_edits()[RULES]] == [4]


def test_two_recs_sections_are_an_error(shop):
    edit(shop / "rules" / "a.yaml", RECS)
    edit(shop / "rules" / "b.yaml", RECS)
    (problem,) = Tailor(shop / "templates", shop / "rules").check()
    assert problem.path.endswith("b.yaml") and (problem.line, problem.col) == (1, 1)
    assert "recs: already declared in" in problem.message and "a.yaml" in problem.message


def test_one_yaml_dialect_for_every_file(shop):
    """Only true/false are booleans, in rule files, experiments, recs filters and template settings alike."""
    experiment = "experiments:\n  t:\n    description: yes\n    variants: {a: {}, b: {}}\n"
    edit(shop / "rules" / "experiments.yaml", experiment)
    edit(shop / "rules" / "recs.yaml", "recs:\n  filters:\n    in_stock: no\n")
    page = shop / "templates" / "welcome.mjml"
    edit(page, re.sub(r"(?m)^description: .*$", "description: on", page.read_text(encoding="utf-8"), count=1))
    workspace = Workspace(shop / "templates", shop / "rules")
    problems = workspace.check()
    # YAML 1.1 would have read `no` as false and passed it; 1.2 reads the word, and check says so
    assert [(Path(p.path).name, p.line, p.message) for p in problems] == [
        ("recs.yaml", 3, "in_stock must be true or false")
    ], problems
    assert workspace.reading().version is None  # an error stops the version
    edit(shop / "rules" / "recs.yaml", "recs:\n  filters:\n    in_stock: false\n")
    assert workspace.check() == []
    assert workspace.experiments["t"].description == "yes"
    assert workspace.template("welcome").settings["description"] == "on"


def test_check_refreshes_the_version_serving_uses(shop):
    tailor = Tailor(shop / "templates", shop / "rules")  # serving looks at most once a second
    served = tailor.rulebook
    hero = shop / "rules" / "hero.yaml"
    edit(hero, hero.read_text().replace("priority: 20", "priority: 21"))
    assert tailor.check() == []
    assert tailor.rulebook is not served  # check read the files now, and serving uses what check read
    assert tailor.rulebook is tailor.workspace.reading().version.rulebook


def test_a_broken_rules_edit_is_one_entry_everyone_reads(shop):
    tailor = tailor_over(shop)
    good = tailor.rulebook
    hero = shop / "rules" / "hero.yaml"
    edit(hero, hero.read_text() + "bogus: 1\n")
    problems = tailor.check()
    assert any(p.path == str(hero) and p.severity == "error" for p in problems)
    assert tailor.rulebook is good  # the last good rules keep serving
    broken = tailor.workspace.broken_edits()
    assert list(broken) == [RULES] and str(broken[RULES][0]).startswith(f"{hero}:")
    report, status = health(tailor)
    assert status == 200 and report["status"] == "degraded" and report["rules"] == f"error: {broken[RULES][0]}"

    edit(hero, hero.read_text().replace("bogus: 1\n", ""))
    assert tailor.check() == [] and tailor.workspace.broken_edits() == {}
    assert health(tailor)[0]["status"] == "ok"


def test_rules_that_never_loaded_raise_and_check_still_reports_templates(shop):
    edit(shop / "rules" / "hero.yaml", "slot: [\n")
    workspace = Workspace(shop / "templates", shop / "rules")
    with pytest.raises(ProblemError) as raised:
        workspace.rules()
    assert "YAML syntax error" in str(raised.value.problems[0])
    edit(shop / "templates" / "welcome.mjml", "<mjml><mj-body>{{ oops </mj-body></mjml>")
    paths = {Path(p.path).name for p in workspace.check()}
    assert {"hero.yaml", "welcome.mjml"} <= paths


def test_one_listing_of_rule_files_recursive(shop):
    nested = shop / "rules" / "seasonal" / "winter.yaml"
    nested.parent.mkdir()
    edit(nested, "experiments:\n  winter:\n    variants: {a: {}, b: {}}\n")
    workspace = Workspace(shop / "templates", shop / "rules")
    assert nested in workspace.rule_files()
    assert "winter" in workspace.experiments  # the same files as the rules, experiments and recs


def test_the_folder_watch_is_throttled_unless_asked_fresh(tmp_path):
    (tmp_path / "a.yaml").write_text("x: 1\n")
    watch = FolderWatch((tmp_path,), recheck_seconds=3600)
    first = watch.stamp()
    edit(tmp_path / "a.yaml", "x: 22\n")
    assert watch.stamp() is first  # looked at moments ago: the hot path does not walk the folder again
    fresh = watch.stamp(fresh=True)
    assert fresh != first and watch.stamp() is fresh
    assert watch.stamp(fresh=True) is fresh  # unchanged files: the same object, compared by identity


def test_a_render_only_tailor_creates_no_store_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    assert Tailor(ROOT / "templates", ROOT / "rules", url).store is None
    assert not (tmp_path / "absent.db").exists()
    assert Tailor(ROOT / "templates", ROOT / "rules", url, create_store=True).store is not None
