"""The studio's pages and JSON endpoints over HTTP (no browser): errors in the page, masking, the version token."""

from __future__ import annotations

import json

import requests
from preview_helpers import ROOT

from tailor.preview.masking import mask_emails


def test_masking_leaves_css_and_image_names_alone():
    assert mask_emails("to ann@example.com.") == "to a***@example.com."
    assert mask_emails("}@media (max-width:480px)") == "}@media (max-width:480px)"
    assert mask_emails("https://cdn.example.com/logo@2x.png") == "https://cdn.example.com/logo@2x.png"


def test_version_token_changes_with_rule_files_and_reports_errors(studio, shop):
    url = f"{studio}/preview/api/version?template=welcome"
    first = requests.get(url, timeout=10).json()
    assert first["ok"] and first["errors"] == [] and first["template_version"]
    assert requests.get(url, timeout=10).json()["version"] == first["version"]
    rules = shop / "rules" / "offer.yaml"
    rules.write_text(rules.read_text() + "\n# a comment\n")
    assert requests.get(url, timeout=10).json()["version"] != first["version"]
    rules.write_text("slot: [\n")
    broken = requests.get(url, timeout=10).json()
    assert not broken["ok"] and any("offer.yaml" in e for e in broken["errors"])


def test_render_errors_are_readable_pages(studio):
    cases = {
        "template=nope&persona=vip-new-york": "unknown template",
        "template=welcome&persona=nobody": "unknown persona",
        "template=welcome&persona=vip-new-york&context=%5B1%5D": "must be a JSON object",
        "template=welcome&persona=vip-new-york&at=soon": "ISO 8601",
        "template=welcome&ref=u-1": "no profile store",
    }
    for query, message in cases.items():
        r = requests.get(f"{studio}/preview/render?{query}", timeout=10)
        assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
        assert 'id="render-error"' in r.text and message in r.text, (query, r.text[-2000:])


def test_a_bad_send_time_on_the_audience_page_is_said_in_the_page(studio):
    # each was a 500 (the dry run raised InvalidInput), whichever source the page was asked for
    for at, message in {"soon": "ISO 8601", "true": "ISO 8601", "0001-01-01": "out of range"}.items():
        for source in ("personas", "store"):
            r = requests.get(f"{studio}/preview/audience", params={"at": at, "source": source}, timeout=30)
            assert r.status_code == 200 and "text/html" in r.headers["Content-Type"], (at, source, r.status_code)
            assert 'id="audience-error"' in r.text and message in r.text, (at, source)


def test_aborted_recipient_says_why(studio):
    profile = json.dumps({"id": "no-mail", "traits": {"first_name": "Nomail"}})
    r = requests.post(f"{studio}/preview/api/render", data={"template": "welcome", "profile": profile}, timeout=10)
    data = r.json()
    assert r.status_code == 200 and not data["ok"]
    assert "skipped (HTTP 422)" in data["error"] and "no email address" in data["error"]
    assert 'id="render-error"' in data["html"]


def test_emails_masked_unless_asked(studio):
    email = json.loads((ROOT / "fixtures" / "personas" / "vip-new-york.json").read_text())["email"]
    masked = requests.get(f"{studio}/preview/render?template=newsletter&persona=vip-new-york", timeout=10).text
    assert email not in masked and "***@" in masked
    shown = requests.get(f"{studio}/preview/render?template=newsletter&persona=vip-new-york&unmask=1", timeout=10).text
    assert email in shown


def test_grid_lists_varying_slots(studio):
    r = requests.get(f"{studio}/preview/grid?template=newsletter", timeout=30)
    assert r.status_code == 200
    assert 'class="varies" data-slot="hero"' in r.text
    assert r.text.count('<div class="card') == 9
