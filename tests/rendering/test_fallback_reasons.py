"""Every fallback a render records is declared in the catalogue (``tailor.rendering.fallbacks.REASONS``)."""

from __future__ import annotations

import ast
from pathlib import Path

from tailor.rendering.fallbacks import REASONS, RECS_OUTCOMES

SRC = Path(__file__).resolve().parents[2] / "src" / "tailor"
#: call sites whose reason is not a literal, and the mapping every value of theirs comes from
COMPUTED = {("core.py", "reason"): RECS_OUTCOMES}


def undeclared(path: Path, text: str) -> list[str]:
    """``file:line: reason`` for every ``record_fallback`` call whose reason is not declared."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "record_fallback" and node.args):
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            if first.value not in REASONS:
                found.append(f"{path.name}:{node.lineno}: {first.value!r}")
        elif not (isinstance(first, ast.Name) and (path.name, first.id) in COMPUTED):
            found.append(f"{path.name}:{node.lineno}: a computed reason ({ast.unparse(first)}) not listed in COMPUTED")
    return found


def test_every_record_fallback_call_uses_a_declared_reason():
    calls = 0
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        calls += text.count("record_fallback(") - text.count("def record_fallback(")
        problems += undeclared(path, text)
    assert not problems
    assert calls >= 20  # the scan found the call sites (a moved import would make this pass vacuously)
    for mapping in COMPUTED.values():
        assert set(mapping.values()) <= set(REASONS)


def test_the_scan_names_an_undeclared_reason_and_an_unlisted_computed_one():
    source = 'record_fallback("made-up", "x")\nrecord_fallback(f"recs-{x}", "y")\nrecord_fallback("null-value", "z")\n'
    assert undeclared(Path("other.py"), source) == [
        "other.py:1: 'made-up'",
        "other.py:2: a computed reason (f'recs-{x}') not listed in COMPUTED",
    ]


def test_every_reason_says_what_it_means_and_what_causes_it():
    for name, reason in REASONS.items():
        assert reason.name == name and reason.meaning and "\n" not in reason.meaning
        assert reason.cause in ("profile data", "send context", "template code", "service")
