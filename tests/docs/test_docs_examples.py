"""Every example in the README and docs/ runs, so the docs cannot rot.

Fenced blocks with ``file=PATH`` are written into a fresh folder per document (in
order); ``console`` blocks then run each ``$ tailor …`` line there and check that every
line shown below the command appears in its output. ``python run=yes`` blocks are executed.
``console shop=yes`` blocks run next to links to the example shop's templates, rules and fixtures.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from tailor.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.S | re.M)


def blocks(doc: Path):
    for m in FENCE.finditer(doc.read_text(encoding="utf-8")):
        info = m.group("info").split()
        lang = info[0] if info else ""
        attrs = dict(part.split("=", 1) for part in info[1:] if "=" in part)
        yield lang, attrs, m.group("body")


def documents_with_examples():
    return [d for d in DOCS if d.exists() and any("file" in a or lang == "console" for lang, a, _ in blocks(d))]


@pytest.mark.parametrize("doc", documents_with_examples(), ids=lambda p: p.name)
def test_examples_run(doc: Path, tmp_path: Path, monkeypatch):
    # the README documents the repository itself; docs/ pages build their own examples
    monkeypatch.chdir(ROOT if doc.name == "README.md" else tmp_path)
    (tmp_path / "no-rules").mkdir()
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    ran = 0
    for lang, attrs, body in blocks(doc):
        if "file" in attrs:
            target = tmp_path / attrs["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body, encoding="utf-8")
        elif lang == "python" and attrs.get("run") == "yes":
            exec(compile(body, f"{doc.name} example", "exec"), {"__name__": "__doc_example__"})
            ran += 1
        elif lang == "console" and attrs.get("run", "yes") != "no":
            if attrs.get("shop") == "yes":
                # run against the example shop (linked, so nothing is written into the repo)
                for name in ("templates", "rules", "fixtures"):
                    if not (tmp_path / name).exists():
                        (tmp_path / name).symlink_to(ROOT / name)
            ran += _run_console(body, int(attrs.get("exit", "0")))
    assert ran or any("file" in a for _, a, _ in blocks(doc))


def _run_console(body: str, exit_code: int = 0) -> int:
    """Run each ``$ tailor`` line; ``exit_code`` is what every one must exit with (``console exit=1``)."""
    runner = CliRunner()
    commands = 0
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.startswith("$ tailor "):
            continue
        expected: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            if lines[i].strip():
                expected.append(lines[i].strip())
            i += 1
        result = runner.invoke(main, shlex.split(line[len("$ tailor ") :]), catch_exceptions=False)
        assert result.exit_code == exit_code, f"{line}\n{result.output}"
        for want in expected:
            assert want in result.output, f"{line}: expected {want!r} in:\n{result.output}"
        commands += 1
    return commands
