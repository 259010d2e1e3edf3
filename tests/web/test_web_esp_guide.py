"""docs/esp.md runs: every ESP example in it is executed against a real server holding the example shop.

Block kinds (the fence's info string):

- ``liquid esp-braze`` — a Braze Connected Content snippet: its URL and headers are
  fetched the way Braze does (GET, 2 s timeout, no redirects, ≤ 1 MB), and every
  ``{{tailor.…}}`` field the Liquid uses must exist in the answer;
- ``http esp-request`` — a raw HTTP request, sent as written;
- ``sh esp-shell`` — a shell script (curl + openssl), run with bash;
- ``json esp-response status=N`` — the answer to the request/script just before it:
  the status, and the JSON as a pattern (``"..."`` = any value, lists match their first items);
- ``python esp-example`` — a Python program with its own asserts, run with
  ``TAILOR_URL``/``TAILOR_SECRET``/``TAILOR_TOKEN`` set and the SendGrid/Mailgun API
  URLs pointing at a local capture server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from urllib.parse import quote

import pytest
import requests
from flask import Flask, request
from webtools import ROOT, LiveServer

from tailor.config import Settings
from tailor.web import create_app

DOC = ROOT / "docs" / "esp.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.S | re.M)
SECRET = "guide-secret"
TOKEN = "guide-token"
DOC_HOST = "https://tailor.example.com"
DOC_TOKEN = "YOUR_TAILOR_TOKEN"
MAX_BYTES = 1024 * 1024


def blocks() -> list[tuple[str, list[str], dict[str, str], str, int]]:
    text = DOC.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        info = m.group("info").split()
        lang, flags = (info[0] if info else ""), [p for p in info[1:] if "=" not in p]
        attrs = dict(p.split("=", 1) for p in info[1:] if "=" in p)
        found.append((lang, flags, attrs, m.group("body"), text.count("\n", 0, m.start()) + 1))
    return found


def examples() -> list[tuple[str, str, dict | None, int]]:
    """(kind, body, expected response, doc line) for every runnable block, responses paired up."""
    out: list = []
    for _lang, flags, attrs, body, line in blocks():
        if "esp-response" in flags:
            assert out and out[-1][0] in ("http", "sh") and out[-1][2] is None, (
                f"esp.md:{line}: response without a request"
            )
            out[-1] = (
                out[-1][0],
                out[-1][1],
                {"status": int(attrs.get("status", 200)), "json": json.loads(body)},
                out[-1][3],
            )
        elif "esp-request" in flags:
            out.append(("http", body, None, line))
        elif "esp-shell" in flags:
            out.append(("sh", body, None, line))
        elif "esp-braze" in flags:
            out.append(("braze", body, None, line))
        elif "esp-example" in flags:
            out.append(("python", body, None, line))
    return out


EXAMPLES = examples()


def test_the_guide_has_every_kind_of_example():
    kinds = [k for k, *_ in EXAMPLES]
    assert {"braze", "http", "sh", "python"} <= set(kinds) and kinds.count("python") >= 2
    for kind, _, expected, line in EXAMPLES:
        if kind in ("http", "sh"):
            assert expected is not None, f"esp.md:{line}: a request needs its expected response block"


@pytest.fixture(scope="module")
def guide_server(shop_db):
    settings = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=shop_db).with_values(
        secret=SECRET, api_tokens=TOKEN
    )
    app = create_app(settings)
    assert app.extensions["tailor"].warm() == {}
    server = LiveServer(app).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def esp_capture():
    """Stands in for the SendGrid and Mailgun send APIs: records what the examples send."""
    app = Flask("esp-capture")
    sent: list[tuple[str, dict]] = []

    @app.post("/v3/mail/send")
    def sendgrid():
        sent.append(("sendgrid", request.get_json()))
        return "", 202

    @app.post("/v3/<domain>/messages")
    def mailgun(domain):
        sent.append(("mailgun", request.form.to_dict()))
        return {"id": "<1@mg>", "message": "Queued. Thank you."}

    server = LiveServer(app).start()
    yield server.url, sent
    server.stop()


def matches(expected, actual, where="") -> None:
    """``actual`` has everything ``expected`` shows ("..." = any value, lists match their first items)."""
    if expected == "...":
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r:.200}"
        for key, value in expected.items():
            assert key in actual, f"{where}/{key}: missing (have {sorted(actual)})"
            matches(value, actual[key], f"{where}/{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) >= len(expected), (
            f"{where}: expected ≥ {len(expected)} items, got {actual!r:.200}"
        )
        for i, value in enumerate(expected):
            matches(value, actual[i], f"{where}/{i}")
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r:.200}"


def send_http(url: str, raw: str) -> requests.Response:
    head, _, body = raw.partition("\n\n")
    lines = head.strip().splitlines()
    method, target, _version = lines[0].split()
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers.pop("Host", None)
    headers = {k: v.replace(DOC_TOKEN, TOKEN) for k, v in headers.items()}
    # what Braze does: 2 s, no redirects
    return requests.request(
        method, url + target, headers=headers, data=body.strip().encode() or None, timeout=2, allow_redirects=False
    )


def check_response(r: requests.Response, expected: dict, line: int) -> None:
    assert r.status_code == expected["status"], f"esp.md:{line}: {r.status_code} {r.text[:500]}"
    assert len(r.content) <= MAX_BYTES
    assert r.headers["Content-Type"] in ("application/json", "application/problem+json")
    data = r.json()
    assert isinstance(data, dict), "a top-level object (Iterable data feeds)"
    matches(expected["json"], data, f"esp.md:{line}")


def render_count(url: str) -> float:
    text = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).text
    samples = [line for line in text.splitlines() if line.startswith("tailor_render_seconds_count")]
    return sum(float(sample.rsplit(" ", 1)[1]) for sample in samples)


def run_braze(url: str, liquid: str, line: int) -> None:
    tag = re.search(r"\{%\s*connected_content\s+(.+?)\s+(:\w.*?)%\}", liquid, re.S)
    assert tag, f"esp.md:{line}: no connected_content tag"
    target, options = tag.groups()
    assert ":save tailor" in options
    headers = json.loads(re.search(r":headers\s+(\{.*?\})", options).group(1))
    # Braze fills in its Liquid before fetching
    target = (
        target.replace("{{${user_id} | url_param_escape}}", quote("u-00001"))
        .replace("{{campaign.${dispatch_id}}}", "braze-dispatch-guide")
        .replace(DOC_HOST, url)
    )
    assert "{{" not in target, f"esp.md:{line}: unfilled Liquid in {target}"
    headers = {k: v.replace(DOC_TOKEN, TOKEN) for k, v in headers.items()}
    before = render_count(url)
    answers = [
        requests.get(target, headers=headers, timeout=2, allow_redirects=False) for _ in range(3)
    ]  # HTML, text, retry
    first = answers[0]
    assert first.status_code == 200 and len(first.content) <= MAX_BYTES, first.text[:500]
    assert all(a.content == first.content for a in answers), "the same send gets the same answer"
    assert render_count(url) == before + 1, "and counts once"
    data = first.json()
    # every field the Liquid reads exists in the answer
    template = liquid[tag.end() :]
    for path in re.findall(r"\btailor\.([A-Za-z_][\w.]*)", template):
        if path.startswith("__"):
            continue
        node = data
        for part in path.split("."):
            assert isinstance(node, dict) and part in node, f"esp.md:{line}: tailor.{path} is not in the answer"
            node = node[part]
    for var, collection in re.findall(r"\{%\s*for\s+(\w+)\s+in\s+tailor\.(\w+)\s*%\}", template):
        assert data[collection], f"esp.md:{line}: tailor.{collection} is empty"
        for field in re.findall(rf"\b{var}\.(\w+)", template):
            assert field in data[collection][0], f"esp.md:{line}: {var}.{field} is not in tailor.{collection}[0]"


@pytest.mark.parametrize("kind,body,expected,line", EXAMPLES, ids=[f"{k}-line{line}" for k, _, _, line in EXAMPLES])
def test_example(kind, body, expected, line, guide_server, esp_capture, monkeypatch):
    url = guide_server
    if kind == "braze":
        run_braze(url, body, line)
    elif kind == "http":
        check_response(send_http(url, body), expected, line)
    elif kind == "sh":
        if not (shutil.which("curl") and shutil.which("openssl") and shutil.which("bash")):
            pytest.skip("needs curl, openssl and bash")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", body],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "TAILOR_URL": url, "TAILOR_SECRET": SECRET},
        )
        assert done.returncode == 0, f"esp.md:{line}: {done.stderr}"
        data = json.loads(done.stdout)
        assert "type" not in data, f"esp.md:{line}: {data}"
        assert expected["status"] == 200
        matches(expected["json"], data, f"esp.md:{line}")
    else:
        capture_url, sent = esp_capture
        monkeypatch.setenv("TAILOR_URL", url)
        monkeypatch.setenv("TAILOR_SECRET", SECRET)
        monkeypatch.setenv("TAILOR_TOKEN", TOKEN)
        monkeypatch.setenv("SENDGRID_API_URL", f"{capture_url}/v3/mail/send")
        monkeypatch.setenv("MAILGUN_API_URL", f"{capture_url}/v3/mg.example-shop.com/messages")
        before = len(sent)
        exec(compile(body, f"docs/esp.md:{line}", "exec"), {"__name__": "esp_example"})
        assert len(sent) == before + 1, "the example handed the email to the ESP's send API"
        provider, payload = sent[-1]
        if provider == "sendgrid":
            parts = {c["type"]: c["value"] for c in payload["content"]}
            assert payload["subject"] and "<html" in parts["text/html"].lower() and parts["text/plain"].strip()
        else:
            assert payload["subject"] and "<html" in payload["html"].lower() and payload["text"].strip()


def test_the_shell_signature_is_checked(guide_server):
    """The curl + openssl recipe with a wrong secret is refused (so the passing run above proves the signature)."""
    shell = next(body for kind, body, _, _ in EXAMPLES if kind == "sh")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", shell],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "TAILOR_URL": guide_server, "TAILOR_SECRET": "not-the-secret"},
    )
    problem = json.loads(done.stdout)
    assert problem["status"] == 401 and problem["type"].endswith("/unauthorized")
