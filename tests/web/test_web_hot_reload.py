"""Hot reload through a running server: marketers' edits apply on the next request, no restart.

A broken edit never takes the service down: the last good version keeps serving while
``/healthz`` (and the log) name the problem as ``path:line:col: message``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import requests
from webtools import ROOT

from file_edits import edit
from tailor.config import Settings
from tailor.web import create_app

AT = "2026-11-23T12:00:00Z"
VIP = json.loads((ROOT / "fixtures" / "personas" / "vip-new-york.json").read_text())


@pytest.fixture
def shop_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    return tmp_path


@pytest.fixture
def url(serve, shop_copy):
    settings = Settings(templates=shop_copy / "templates", rules=shop_copy / "rules", database_url="")
    app = create_app(settings)
    app.extensions["tailor"].workspace.watch.recheck_seconds = 0  # production looks at the files at most once a second
    return serve(app)


def hero(url: str) -> str:
    r = requests.post(f"{url}/v1/render", json={"template": "newsletter", "profile": VIP, "at": AT}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["blocks"]["hero"]


def health(url: str) -> dict:
    return requests.get(f"{url}/healthz", timeout=30).json()


def test_rule_edit_applies_on_the_next_request(url, shop_copy):
    assert hero(url) == "hero/winter-promo"  # vip-new-york-winter (35) beats vip (30)
    rules = shop_copy / "rules" / "hero.yaml"
    original = rules.read_text()
    edit(rules, original.replace("    priority: 30\n    block: hero/vip\n", "    priority: 36\n    block: hero/vip\n"))
    assert hero(url) == "hero/vip"
    r = requests.post(f"{url}/v1/render", json={"template": "newsletter", "profile": VIP, "at": AT}, timeout=30).json()
    assert any(d.get("why") == "rule vip" for d in r["decisions"])
    edit(rules, original)
    assert hero(url) == "hero/winter-promo"


def test_broken_template_keeps_the_last_good_version(url, shop_copy, capfd):
    good = requests.post(
        f"{url}/v1/render", json={"template": "newsletter", "profile": VIP, "at": AT}, timeout=30
    ).json()
    assert health(url)["status"] == "ok"
    template = shop_copy / "templates" / "newsletter.mjml"
    original = template.read_text()
    lines = original.splitlines(keepends=True)
    broken_line = next(i for i, line in enumerate(lines) if '{% slot "hero"' in line) + 2
    lines.insert(broken_line - 1, "    {% endif %}\n")  # closes nothing
    edit(template, "".join(lines))

    r = requests.post(f"{url}/v1/render", json={"template": "newsletter", "profile": VIP, "at": AT}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["template_version"] == good["template_version"] and r.json()["html"] == good["html"]
    report = health(url)
    assert report["status"] == "degraded"
    assert re.match(rf"^{re.escape(str(template))}:{broken_line}:\d+: ", report["templates"]["newsletter"]), report
    assert report["templates"]["welcome"] == "ok"
    err = capfd.readouterr().err
    assert "broken edit: serving the last good version" in err and str(template) in err

    edit(template, original.replace("The Weekly Edit", "The Weekly Letter"))
    r = requests.post(f"{url}/v1/render", json={"template": "newsletter", "profile": VIP, "at": AT}, timeout=30)
    assert r.status_code == 200 and "The Weekly Letter" in r.json()["html"]
    assert r.json()["template_version"] != good["template_version"]
    assert health(url)["status"] == "ok"


def test_broken_block_keeps_the_last_good_version(url, shop_copy):
    assert hero(url) == "hero/winter-promo"
    block = shop_copy / "templates" / "blocks" / "hero" / "winter-promo.mjml"
    original = block.read_text()
    lines = original.splitlines(keepends=True)
    edit(block, "".join(lines[:2] + ["{% endif %}\n"] + lines[2:]))
    assert hero(url) == "hero/winter-promo"
    report = health(url)
    assert report["status"] == "degraded" and report["templates"]["newsletter"].startswith(f"{block}:3:1: ")
    edit(block, original)
    assert health(url)["status"] == "ok"


def test_broken_rules_keep_the_last_good_rules(url, shop_copy, capfd):
    rules = shop_copy / "rules" / "hero.yaml"
    original = rules.read_text()
    edit(rules, original.replace("    priority: 30\n    block: hero/vip\n", "    priority: 36\n    block: hero/vip\n"))
    assert hero(url) == "hero/vip"
    edit(rules, original.replace("    when: \"'vip' in segments\"\n", "    when: \"'vip' in segments and (\"\n"))
    assert hero(url) == "hero/vip", "the last good rules (with the edit before) keep serving"
    report = health(url)
    assert report["status"] == "degraded"
    assert re.match(rf"^error: {re.escape(str(rules))}:\d+:\d+: ", report["rules"]), report
    assert "broken edit: serving the last good version" in capfd.readouterr().err
    edit(rules, original)
    assert hero(url) == "hero/winter-promo"
    assert health(url) == {**health(url), "status": "ok", "rules": "ok"}
