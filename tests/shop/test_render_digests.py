"""Every template × every persona renders byte for byte as before the render-context refactor.

``render_digests.json`` was written by the code *before* the render context became one
typed value (``tailor.context``): a change of the context's shape that changes any email,
any decision trace, trigger state, recommendation summary or
fallback list fails here. Regenerate (only for an intended change
of output) with ``TAILOR_WRITE_DIGESTS=1 pytest tests/shop/test_render_digests.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from shop_data import SHOP_NOW, context_for, persona_names, shop_templates

from tailor import RenderAborted

DIGESTS = Path(__file__).with_name("render_digests.json")


def _sha(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _digest(shop, personas, template: str, persona: str) -> dict[str, str]:
    try:
        email = shop.render(
            template, profile=personas[persona], at=SHOP_NOW, context=context_for(template), record_exposure=False
        )
    except RenderAborted as exc:
        return {"aborted": exc.reason, "decisions": _sha(exc.decisions)}
    return {
        "email": _sha(email.html + "\0" + email.text + "\0" + email.subject),
        "decisions": _sha(email.decisions),
        "triggers": _sha(email.triggers),
        "recommendations": _sha(email.recommendations),
        "fallbacks": _sha(email.fallbacks),
    }


def test_every_template_for_every_persona_renders_as_before(shop, personas):
    got = {f"{t}×{p}": _digest(shop, personas, t, p) for t in shop_templates() for p in persona_names()}
    if os.environ.get("TAILOR_WRITE_DIGESTS"):
        DIGESTS.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.skip("digests written")
    expected = json.loads(DIGESTS.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(expected)
    changed = {k: (expected[k], got[k]) for k in expected if got[k] != expected[k]}
    assert not changed, changed
