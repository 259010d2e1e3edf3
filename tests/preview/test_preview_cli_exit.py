"""`tailor preview` fails a CI job when a render is refused or an email check fails, unless the refusal is expected."""

from __future__ import annotations

from click.testing import CliRunner
from preview_helpers import AT, ROOT


def preview(shop, out, personas, *extra):
    from tailor.cli import main

    args = ["preview", "--out", str(out), "--at", AT, "--personas", str(personas)]
    args += ["--templates", str(shop / "templates"), "--rules", str(shop / "rules"), "--database-url", "", *extra]
    return CliRunner().invoke(main, args)


def test_refused_renders_fail_unless_expected(shop, tmp_path):
    coverage = ROOT / "fixtures" / "personas" / "coverage"
    refused = preview(shop, tmp_path / "a", coverage)
    assert refused.exit_code == 1
    assert "welcome × abort-no-email-address: this recipient would be skipped (HTTP 422)" in refused.output
    allowed = preview(shop, tmp_path / "b", coverage, "--allow-refused", "abort-*")
    assert allowed.exit_code == 0, allowed.output
    assert "the recipient has no email address (expected)" in allowed.output
    # naming only one of the two abort personas still fails on the other
    partly = preview(shop, tmp_path / "c", coverage, "--allow-refused", "abort-no-email-address")
    assert partly.exit_code == 1
    assert (
        "abort-cart-already-converted: this recipient would be skipped (HTTP 422): the cart is no longer abandoned\n"
        in (partly.output)
    )


def test_a_failed_email_check_fails_the_preview(shop, tmp_path):
    assert preview(shop, tmp_path / "ok", shop / "personas").exit_code == 0
    hero = shop / "templates" / "blocks" / "hero" / "generic.mjml"
    text = hero.read_text()
    hero.write_text(text.replace('alt="Model in a camel wool coat and cream knit on a winter street" ', "", 1))
    result = preview(shop, tmp_path / "bad", shop / "personas")
    assert result.exit_code == 1
    assert "newsletter × sparse-data: check failed: images without alt (1 of" in result.output
