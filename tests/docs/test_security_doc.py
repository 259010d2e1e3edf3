"""docs/security.md names, for every control, the test that proves it: those tests must exist.

A renamed or deleted test would otherwise leave the threat model pointing at nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
#: ``tests/x.py::test_name``, ``tests/x.py`` or a bare ``::test_name`` continuing the last file named
REFERENCE = re.compile(r"`(?P<file>tests/[\w/]+\.py)(?:::(?P<test>\w+))?`|`::(?P<more>\w+)`")


def references() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    current = None
    for m in REFERENCE.finditer(DOC.read_text(encoding="utf-8")):
        if m.group("file"):
            current = m.group("file")
            found.append((current, m.group("test")))
        else:
            assert current is not None, f"`::{m.group('more')}` before any test file is named"
            found.append((current, m.group("more")))
    return found


def test_every_test_the_threat_model_names_exists() -> None:
    refs = references()
    assert len(refs) > 40, "the threat model names the tests that prove it"
    missing = []
    for file, test in refs:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif test and not re.search(rf"^(async )?def {test}\(", path.read_text(encoding="utf-8"), re.M):
            missing.append(f"{file}::{test}")
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
