"""Through a real threaded server: a runaway template is refused and the worker is freed.

Threads cannot be killed and signals do not reach them: only the cooperative deadline
in the generated code stops a render in the threaded server (and in gunicorn's sync
workers and Dask's worker threads alike). Before it, the request gave up and the worker
thread kept spinning on the loop.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import requests

from tailor import Tailor
from tailor.config import Settings
from tailor.web import create_app

TIMEOUT_MS = 300
SLACK_S = 3.0
LOOP = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
SECRET = "TOP-SECRET-VALUE-42"


def page(body: str) -> str:
    return "---\nsubject: Hi\n---\n<!doctype html><html><body>\n" + body + "\n</body></html>\n"


def serve_templates(serve, tmp_path: Path, files: dict[str, str]) -> str:
    root, rules = tmp_path / "templates", tmp_path / "rules"
    rules.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    settings = Settings(templates=root, rules=rules, database_url="").with_values(render_timeout_ms=TIMEOUT_MS)
    tailor = Tailor(root, rules, None, settings=settings)
    url = serve(create_app(settings, tailor=tailor))
    # the first render pays one-off imports; the timings below are the render's own
    (root / "warm.html").write_text(page("<p>warm</p>"), encoding="utf-8")
    assert requests.post(f"{url}/v1/render", json={"template": "warm", "profile": {"id": "u1"}}, timeout=60).ok
    return url


def test_runaway_template_is_refused_and_the_worker_is_freed(serve, tmp_path):
    url = serve_templates(serve, tmp_path, {"loop.html": page(LOOP), "ok.html": page("<p>fine</p>")})
    threads_before = threading.active_count()
    started = time.monotonic()
    r = requests.post(f"{url}/v1/render", json={"template": "loop", "profile": {"id": "u1"}}, timeout=60)
    elapsed = time.monotonic() - started
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert "render-limit" in r.text and "'loop'" in body["detail"] and f"{TIMEOUT_MS} ms" in body["detail"]
    assert elapsed < TIMEOUT_MS / 1000 + SLACK_S
    # the thread that served it has returned: it is not spinning on the loop any more
    deadline = time.monotonic() + SLACK_S
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= threads_before
    # and the server answers the next request right away
    ok = requests.post(f"{url}/v1/render", json={"template": "ok", "profile": {"id": "u1"}}, timeout=10)
    assert ok.status_code == 200 and "fine" in ok.json()["html"]


def test_big_int_template_is_refused_and_the_server_keeps_answering(serve, tmp_path):
    """One ``**`` on a huge int is a single C-level operation no deadline check can stop.

    Before: 200 after 11 s (``** 3``), over 30 s with ``** 10`` and /healthz unanswered
    meanwhile. Now the size of the result is estimated first and the render refused.
    """
    big = "{{ ((9 ** 1000) ** 1000) ** 10 > 0 }}"
    url = serve_templates(serve, tmp_path, {"bigint.html": page(big), "ok.html": page("<p>fine</p>")})
    statuses: list[int] = []
    runaway = threading.Thread(
        target=lambda: statuses.append(
            requests.post(
                f"{url}/v1/render", json={"template": "bigint", "profile": {"id": "u1"}}, timeout=60
            ).status_code
        )
    )
    started = time.monotonic()
    runaway.start()
    health = requests.get(f"{url}/healthz", timeout=10)
    runaway.join(timeout=TIMEOUT_MS / 1000 + SLACK_S)
    assert not runaway.is_alive() and statuses == [422]
    assert time.monotonic() - started < TIMEOUT_MS / 1000 + SLACK_S
    assert health.ok
    r = requests.post(f"{url}/v1/render", json={"template": "bigint", "profile": {"id": "u1"}}, timeout=60)
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert "render-limit" in r.text and "100,000 bits" in r.json()["detail"]
    ok = requests.post(f"{url}/v1/render", json={"template": "ok", "profile": {"id": "u1"}}, timeout=10)
    assert ok.status_code == 200 and "fine" in ok.json()["html"]


def test_concurrent_requests_are_answered_while_a_runaway_renders(serve, tmp_path):
    url = serve_templates(serve, tmp_path, {"loop.html": page(LOOP), "ok.html": page("<p>fine</p>")})
    statuses: list[int] = []
    runaway = threading.Thread(
        target=lambda: statuses.append(
            requests.post(
                f"{url}/v1/render", json={"template": "loop", "profile": {"id": "u1"}}, timeout=60
            ).status_code
        )
    )
    runaway.start()
    ok = requests.post(f"{url}/v1/render", json={"template": "ok", "profile": {"id": "u1"}}, timeout=10)
    runaway.join(timeout=TIMEOUT_MS / 1000 + SLACK_S)
    assert ok.status_code == 200
    assert not runaway.is_alive() and statuses == [422]


def test_include_outside_templates_never_reaches_the_response(serve, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text(f"TAILOR_SECRET={SECRET}", encoding="utf-8")
    url = serve_templates(serve, tmp_path, {"leak.html": page(f'{{% include "{outside}" %}}')})
    r = requests.post(f"{url}/v1/render", json={"template": "leak", "profile": {"id": "u1"}}, timeout=10)
    assert r.status_code == 422 and "broken-template" in r.text
    assert SECRET not in r.text and "outside the templates folder" in r.text
