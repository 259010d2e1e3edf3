"""`tailor render` and `tailor check`: right output, one clear line per bad input, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tailor.cli import main

ROOT = Path(__file__).resolve().parents[2]
PERSONA = ROOT / "fixtures" / "personas" / "cart-abandoner.json"
AT = "2026-11-23T12:00:00Z"


@pytest.fixture
def shop_copy(tmp_path, monkeypatch):
    """A copy of the example shop's templates and rules that a test may break."""
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_render_json_has_everything(shop_copy):
    result = run("render", "cart_abandonment", "--profile", str(PERSONA), "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"subject", "preheader", "html", "text", "decisions", "fallbacks", "template_version"} <= set(data)
    assert data["blocks"]["hero"] == "hero/cart-reminder"
    hero = next(d for d in data["decisions"] if d.get("slot") == "hero")
    assert hero["why"] == "rule cart-reminder"


def test_render_text_and_output_file(shop_copy):
    out = shop_copy / "email.txt"
    result = run(
        "render", "cart_abandonment", "--profile", str(PERSONA), "--at", AT, "--format", "text", "-o", str(out)
    )
    assert result.exit_code == 0
    assert "COMEBACK10" in out.read_text()


def test_unknown_template(shop_copy):
    result = run("render", "nope", "--profile", str(PERSONA))
    assert result.exit_code == 1
    assert "unknown template 'nope'" in result.output and "newsletter" in result.output
    assert "Traceback" not in result.output


def test_malformed_profile_json(shop_copy):
    bad = shop_copy / "bad.json"
    bad.write_text('{"id": "x",\n "traits": {"a": 1,}}')
    result = run("render", "welcome", "--profile", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:2:" in result.output and "malformed JSON" in result.output


def test_profile_with_wrong_types(shop_copy):
    bad = shop_copy / "bad.json"
    bad.write_text(json.dumps({"id": "x", "traits": ["not", "an", "object"]}))
    result = run("render", "welcome", "--profile", str(bad))
    assert result.exit_code == 1 and "/traits: must be an object" in result.output


def test_bad_at(shop_copy):
    result = run("render", "welcome", "--profile", str(PERSONA), "--at", "yesterday")
    assert result.exit_code == 1 and "not an ISO 8601 time" in result.output


def test_render_needs_exactly_one_recipient_source(shop_copy):
    assert run("render", "welcome").exit_code == 1


def test_check_passes_on_the_example_shop():
    result = CliRunner().invoke(main, ["check", "--templates", str(ROOT / "templates"), "--rules", str(ROOT / "rules")])
    assert result.exit_code == 0, result.output


def test_check_reports_template_and_rule_problems(shop_copy):
    (shop_copy / "templates" / "welcome.mjml").write_text(
        (shop_copy / "templates" / "welcome.mjml")
        .read_text()
        .replace(
            "</mj-body>",
            '<mj-section><mj-column width="{{ w }}"><mj-text>x</mj-text></mj-column></mj-section></mj-body>',
        )
    )
    (shop_copy / "rules" / "hero.yaml").write_text(
        (shop_copy / "rules" / "hero.yaml").read_text() + "\n  - id: [broken\n"
    )
    result = run("check")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if ": " in line and line.count(":") >= 3]
    assert any(line.startswith("templates/welcome.mjml:") and "width" in line for line in lines), result.output
    assert any(line.startswith("rules/hero.yaml:") for line in lines), result.output
