"""Embedding ``Tailor.render`` needs none of the optional extras, and the library stays quiet.

``tailor[serve]`` (gunicorn), ``tailor[batch]`` (dask) and ``tailor[postgres]`` (psycopg)
are extras: a program that only renders must not need them. The subprocess blocks them
with a meta-path finder, so an import of any of them fails as if it were not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, logging, sys

BLOCKED = ("gunicorn", "dask", "distributed", "psycopg", "psycopg2")


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: an extra)", name=name)
        return None


sys.meta_path.insert(0, Blocker())
from tailor.core import Tailor

root = sys.argv[1]
profile = json.load(open(f"{root}/fixtures/personas/french-shopper.json", encoding="utf-8"))
email = Tailor(f"{root}/templates", f"{root}/rules").render(
    "newsletter", profile=profile, at="2026-11-23T12:00:00Z", record_exposure=False
)
print(json.dumps({
    "subject": email.subject,
    "html_bytes": len(email.html),
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
    "tailor_handlers": len(logging.getLogger("tailor").handlers),
}))
"""


def test_render_without_the_extras_and_without_touching_logging():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["subject"].startswith("Hélène") and result["html_bytes"] > 10_000
    assert result["loaded"] == []
    assert result["tailor_handlers"] == 0, "the library logs; only `tailor serve` installs a handler"


def test_serve_installs_the_json_formatter(capfd):
    import logging

    from tailor.web.logs import LOGGER_NAME, JSONFormatter, install_json_logging, log

    install_json_logging()
    install_json_logging()  # once, however often it is called
    logger = logging.getLogger(LOGGER_NAME)
    # pytest may have attached its own capture handlers to the logger in earlier tests: count ours
    assert len([h for h in logger.handlers if isinstance(h.formatter, JSONFormatter)]) == 1
    log(logging.getLogger("tailor.web.app"), logging.WARNING, "broken edit", template="newsletter")
    line = json.loads(capfd.readouterr().err.strip().splitlines()[-1])
    assert line["level"] == "warning" and line["msg"] == "broken edit" and line["template"] == "newsletter"
