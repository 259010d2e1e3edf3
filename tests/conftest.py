"""Fixtures shared by the whole suite: the repository paths, tiny template folders, the MJML oracle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip when a real dependency is missing — but fail in CI, where nothing may be skipped silently."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def write_templates(tmp_path: Path) -> Callable[..., Path]:
    """Write a small templates folder: ``write_templates({"a.mjml": "...", "blocks/hero/x.mjml": "..."})``."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "templates"
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
        root.mkdir(exist_ok=True)
        return root

    return write


class MJMLOracle:
    """Official MJML (npm ``mjml``) in one long-lived Node process."""

    def __init__(self, script: Path):
        self.proc = subprocess.Popen(
            ["node", str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=script.parent
        )

    def __call__(self, source: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"mjml": source}) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise ValueError(answer["error"])
        return answer["html"]

    def close(self) -> None:
        self.proc.terminate()


@pytest.fixture(scope="session")
def mjml_oracle():
    script = ROOT / "oracle" / "compile.js"
    require(shutil.which("node") is not None, "node is not installed")
    require((ROOT / "oracle" / "node_modules" / "mjml").is_dir(), "official MJML not installed (run `make oracle`)")
    oracle = MJMLOracle(script)
    yield oracle
    oracle.close()
