"""Coverage personas and fallbacks: every declared reason the shop can take is taken by a committed
persona (read from real renders), the rest are named with why, and declared faults render safely.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from preview_helpers import make_app

from tailor.cli import main
from tailor.core import Tailor, parse_at
from tailor.preview.coverage import fallback_targets, generate
from tailor.preview.fallback_sites import fallback_sites
from tailor.preview.faults import FAULTS, persona_faults, with_faults
from tailor.preview.personas import load_personas, read_personas, send_context
from tailor.preview.session import PreviewRequest, render_preview
from tailor.rendering.fallbacks import REASONS

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"
COVERAGE = ROOT / "fixtures" / "personas" / "coverage"
#: what the example shop's templates and data can make a render take (with the declared faults)
REACHABLE = {
    "no-consent",
    "bad-locale",
    "bad-timezone",
    "null-value",
    "missing-number",
    "bad-number",
    "other-currency",
    "recs-error",
    "recs-timeout",
    "recs-empty",
    "recs-hidden",
}


@pytest.fixture
def shop(tmp_path, monkeypatch) -> Tailor:
    """The example shop without a store (the personas must not depend on one being there)."""
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    monkeypatch.setenv("TAILOR_DATABASE_URL", url)
    return Tailor(ROOT / "templates", ROOT / "rules", url)


def rendered_reasons(tailor: Tailor, personas: dict) -> dict[str, set[str]]:
    """reason → the personas whose renders (every template, under the persona's fault) took it."""
    taken: dict[str, set[str]] = {}
    for name, document in personas.items():
        renderer = with_faults(tailor, persona_faults(document))
        for template in tailor.template_names():
            try:
                email = renderer.render(
                    template, profile=document, at=AT, context=send_context(document) or None, record_exposure=False
                )
            except Exception:  # an abort persona: refused on purpose
                continue
            for fallback in email.fallbacks:
                taken.setdefault(fallback["reason"], set()).add(name)
    return taken


def test_every_reason_the_shop_can_take_is_taken_by_a_committed_persona(shop):
    taken = rendered_reasons(shop, load_personas(COVERAGE))
    assert set(taken) >= REACHABLE, REACHABLE - set(taken)
    # the service fallbacks come from the personas that declare a fault, not from the machine's store
    service = {r for r in REACHABLE if REASONS[r].cause == "service"}
    faulty = {n for n, d in load_personas(COVERAGE).items() if persona_faults(d)}
    assert all(taken[r] & faulty for r in service)


def test_the_generator_names_every_other_reason_with_why(shop):
    targets, unreached = fallback_targets(shop, parse_at(AT))
    assert {t.key[1] for t in targets} == REACHABLE
    why = {u.reason: u.why for u in unreached}
    assert set(why) == set(REASONS) - REACHABLE  # every declared reason is one or the other
    assert "date" in why["bad-date"] and "no template" in why["bad-date"]
    assert "POST /v1/render" in why["anonymous"]
    # tried and measured: the places are named, relative to templates/
    assert "blocks/hero/cart-reminder.mjml:20:" in why["block-failed"]
    readme = (COVERAGE / "README.md").read_text()
    assert "## Fallbacks no persona can reach" in readme
    assert all(f"- `{reason}` ({REASONS[reason].cause}): {text}" in readme for reason, text in why.items())


def test_fallbacks_fold_into_personas_without_adding_one(shop):
    """11 is the least for the rules and aborts; the fallbacks ride on personas that keep proving theirs."""
    committed = load_personas(COVERAGE)
    assert len(committed) == 11
    assert persona_faults(committed["cart-reminder"]) == ["recs-unavailable"]
    assert committed["cart-reminder"]["context"]["currency"] == "USD"  # the email's currency, vs the EUR item


def test_sites_follow_set_and_for_and_keep_the_number_guard(shop):
    sites = {(s.reason, s.path): s for s in fallback_sites(shop, "USD")}
    shipping = sites[("bad-number", "context.order.shipping")]
    assert shipping.guards == (("context.order.total", 10),)
    assert shipping.where.endswith("templates/order_confirmation.mjml:58:91")
    assert sites[("null-value", "context.order.items[].title")].label == "template order_confirmation"
    cart = sites[("block-failed", "triggers.cart_abandonment.items[].quantity")]
    assert cart.block == "hero/cart-reminder"
    assert sites[("other-currency", "context.order.currency")].guards == (("context.currency", "USD"),)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_persona_renders_with_its_fallbacks_and_never_fails(shop, fault):
    document = {"id": "f1", "email": "f1@example.com", "faults": [fault]}
    outcome = render_preview(shop, {"f1": document}, PreviewRequest("newsletter", persona="f1", at=AT))
    assert outcome.error is None and outcome.email is not None
    reasons = {f["reason"] for f in outcome.email.fallbacks}
    assert set(FAULTS[fault].reasons) <= reasons
    # the studio's own Tailor is untouched: without the fault no recs-error/timeout is recorded
    plain = render_preview(shop, {"f1": {**document, "faults": []}}, PreviewRequest("newsletter", persona="f1", at=AT))
    assert plain.email is not None and not {"recs-error", "recs-timeout"} & {f["reason"] for f in plain.email.fallbacks}


def test_the_studio_grid_shows_a_fault_persona_with_a_badge_and_status_200(tmp_path, shop_recommender):
    for folder in ("templates", "rules"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copytree(ROOT / "fixtures" / "personas", tmp_path / "personas")
    client = make_app(tmp_path, shop_recommender).test_client()
    grid = client.get("/preview/grid?template=newsletter&set=coverage")
    assert grid.status_code == 200
    page = grid.get_data(as_text=True)
    assert 'data-fault="recs-unavailable"' in page and 'data-fault="recs-timeout"' in page
    one = client.get("/preview/render?template=newsletter&set=coverage&persona=cart-reminder")
    assert one.status_code == 200 and "recs-error" in one.get_data(as_text=True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"recs-unavailable"', "faults must be a list of fault names"),
        ('["recs-down"]', "unknown fault 'recs-down'"),
        ('["recs-empty", "recs-timeout"]', "give one fault per persona"),
    ],
)
def test_a_malformed_faults_value_is_named_at_path_line_col_and_only_that_persona_skipped(tmp_path, value, message):
    (tmp_path / "good.json").write_text(json.dumps({"id": "good"}))
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "id": "bad",\n  "faults":  ' + value + "\n}\n")
    personas, problems = read_personas(tmp_path)
    assert list(personas) == ["good"]
    [problem] = problems
    assert (problem.path, problem.line, problem.col, problem.severity) == (str(bad), 3, 14, "error")
    assert problem.message.startswith(message)


def test_check_coverage_reports_a_bad_faults_value_and_the_unreachable_reasons(tmp_path, monkeypatch):
    for folder in ("templates", "rules"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copytree(COVERAGE, tmp_path / "personas")
    (tmp_path / "personas" / "zz-bad.json").write_text('{"id": "zz",\n "faults": ["nope"]}\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    result = CliRunner().invoke(main, ["check", "--coverage", "--personas", "personas", "--at", AT])
    assert "personas/zz-bad.json:2:12: unknown fault 'nope'" in result.output
    assert "fallback 'bad-date' (profile data) cannot be reached: no template passes" in result.output
    assert "is never taken by any persona" not in result.output  # the committed set takes every reachable one


def test_check_coverage_warns_where_a_reachable_fallback_is_never_taken(shop):
    from tailor.preview.coverage import coverage_problems

    personas = {n: d for n, d in load_personas(COVERAGE).items() if n != "cart-reminder"}
    missed = [p for p in coverage_problems(shop, personas, AT) if "is never taken by any persona" in p.message]
    null = next(p for p in missed if "fallback 'null-value'" in p.message)
    assert null.severity == "warning" and null.path.endswith("templates/partials/header.mjml")
    assert any("fallback 'recs-error' (fault recs-unavailable" in p.message for p in missed)


def test_generated_fault_personas_say_so_in_the_readme(shop):
    generated = generate(shop, AT)
    faulty = {p.name: p.fault for p in generated.personas if p.fault}
    assert faulty == {"cart-reminder": "recs-unavailable", "browse-reminder": "recs-timeout"}


def test_check_coverage_on_the_command_line_names_a_missed_fallback_at_its_template_line(tmp_path, monkeypatch):
    for folder in ("templates", "rules"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copytree(COVERAGE, tmp_path / "personas")
    (tmp_path / "personas" / "cart-reminder.json").unlink()  # the persona that carries null-value
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    result = CliRunner().invoke(main, ["check", "--coverage", "--personas", "personas", "--at", AT])
    missed = [line for line in result.output.splitlines() if "is never taken by any persona" in line]
    assert any(line.startswith("templates/partials/header.mjml:") and "'null-value'" in line for line in missed), (
        result.output
    )
    assert any("'recs-error'" in line for line in missed), result.output
