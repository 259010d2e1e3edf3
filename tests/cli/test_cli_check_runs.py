"""`tailor check --audience/--segment/--sample`: a dry run that sends nothing and reports what a campaign would show."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tailor.cli import main

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"
COVERAGE = ROOT / "fixtures" / "personas" / "coverage"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def shop(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    return tmp_path


@pytest.fixture
def audience_file(shop):
    """The coverage personas as a campaign audience (JSON lines of profile documents)."""
    path = shop / "audience.jsonl"
    docs = [json.loads(p.read_text()) for p in sorted(COVERAGE.glob("*.json"))]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def test_audience_report_has_reach_fallback_rates_aborts_and_rules_never_matched(audience_file):
    result = run("check", "--audience", str(audience_file), "--template", "newsletter", "--at", AT)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"dry run: 11 of 11 recipients ({audience_file}); nothing was sent"
    assert "newsletter: 11 recipients, 10 rendered, 1 skipped, 0 failed" in lines
    hero_vip = next(x for x in lines if "hero/vip " in x)
    assert hero_vip.split() == ["hero/vip", "1", "10%"]
    no_consent = next(x for x in lines if x.strip().startswith("no-consent"))
    assert no_consent.split() == ["no-consent", "1", "10%"]
    aborted = next(x for x in lines if "the recipient has no email address" in x)
    assert aborted.split()[-2:] == ["1", "9%"]
    assert "  rules never matched: cart-already-converted" in lines


def test_one_send_context_for_the_whole_dry_run(audience_file):
    context = json.dumps({"campaign": "cart_abandonment"})
    result = run("check", "--audience", str(audience_file), "--template", "welcome", "--at", AT, "--context", context)
    assert result.exit_code == 0, result.output
    # everyone whose cart is not waiting is skipped by the abort rule; the one with a cart renders, and so
    # does the one without personalization consent (a rule on triggers is behavioural: not applied to them)
    assert "welcome: 11 recipients, 2 rendered, 9 skipped, 0 failed" in result.output
    skipped = next(x for x in result.output.splitlines() if "the cart is no longer abandoned" in x)
    assert skipped.split()[-2:] == ["8", "73%"]  # and 1 has no email address (the first abort rule)


def test_json_report_and_a_repeatable_sample(audience_file):
    args = ["check", "--audience", str(audience_file), "--template", "newsletter", "--at", AT, "--json"]
    first = json.loads(run(*args, "--sample", "4").output.splitlines()[0])
    again = json.loads(run(*args, "--sample", "4").output.splitlines()[0])
    assert first == again
    (report,) = first["reports"]
    assert first["sampled"] == 4 and report["recipients"] == 4
    assert sum(report["reach"]["hero"].values()) == report["rendered"]


def test_segment_dry_run_renders_only_the_segment(shop, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.setenv("TAILOR_DATABASE_URL", url)
    messages = [
        {"type": "identify", "userId": "u-vip-1", "traits": {"email": "a@example.com", "segment": "vip"}},
        {"type": "identify", "userId": "u-vip-2", "traits": {"email": "b@example.com", "segment": "vip"}},
        {"type": "identify", "userId": "u-plain", "traits": {"email": "c@example.com"}},
    ]
    for i, message in enumerate(messages):
        message.update(messageId=f"m-{i}", timestamp="2026-11-20T10:00:00Z")
    events = tmp_path / "identify.jsonl"
    events.write_text("".join(json.dumps(m) + "\n" for m in messages))
    assert run("ingest", str(events)).exit_code == 0
    result = run("check", "--segment", "vip", "--template", "welcome", "--at", AT)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "dry run: 2 of 2 recipients (segment vip); nothing was sent"
    hero = next(x for x in result.output.splitlines() if "hero/" in x)
    assert hero.split() == ["hero/vip", "2", "100%"]
    unknown = CliRunner().invoke(main, ["check", "--segment", "knitwear_fan"])
    assert unknown.exit_code == 1
    assert "unknown segment 'knitwear_fan' (known: at_risk, french_speaking, vip, window_shopper)" in unknown.output


def test_bad_audience_input_is_one_line_not_a_traceback(shop):
    bad = shop / "bad.jsonl"
    bad.write_text('{"id": "a"}\n{"id": \n')
    result = CliRunner().invoke(main, ["check", "--audience", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2:" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["check", "--segment", "vip"])
    assert missing.exit_code == 1 and "--segment/--sample need a store" in missing.output
