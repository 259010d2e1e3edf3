"""``tailor preview --out DIR``: a static site of every template × persona, for review in CI.

The pages reuse the studio's pieces (the result view, the decision panel, the stylesheet),
so the static export and the live UI explain a render the same way.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tailor.core import Tailor
from tailor.email import Email
from tailor.preview.grid import varying_slots
from tailor.preview.panel import decision_panel
from tailor.preview.session import PreviewOutcome, PreviewRequest, panel_for, render_preview
from tailor.preview.ui import STATIC_DIR, ui_env

#: ``decision_panel`` stays importable from here, where the first static export defined it
__all__ = ["PreviewResult", "build_static_preview", "decision_panel"]


@dataclass
class PreviewResult:
    template: str
    persona: str
    email: Email | None
    error: str | None
    path: str


def build_static_preview(
    tailor: Tailor,
    personas: dict[str, dict[str, Any]],
    out: Path,
    at: datetime | str | None = None,
    *,
    mask: bool = True,
) -> list[PreviewResult]:
    """Render every template for every persona into ``out``; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(STATIC_DIR / "preview.css", out / "preview.css")
    at_text = at.isoformat() if isinstance(at, datetime) else (at or "")
    env = ui_env()
    results: list[PreviewResult] = []
    outcomes: dict[str, dict[str, PreviewOutcome]] = {}
    for template in tailor.template_names():
        (out / template).mkdir(exist_ok=True)
        for persona in personas:
            req = PreviewRequest(template, persona=persona, at=at_text, mask=mask)
            outcome = render_preview(tailor, personas, req)
            outcomes.setdefault(template, {})[persona] = outcome
            rel = f"{template}/{persona}.html"
            page = env.get_template("preview/static_page.html").render(
                req=req, outcome=outcome, panel=panel_for(tailor, outcome), root="../"
            )
            (out / rel).write_text(page, encoding="utf-8")
            if outcome.email is not None:
                (out / template / f"{persona}.email.html").write_text(outcome.html, encoding="utf-8")
                (out / template / f"{persona}.txt").write_text(outcome.text, encoding="utf-8")
            results.append(PreviewResult(template, persona, outcome.email, outcome.error, rel))
    index = env.get_template("preview/static_index.html").render(
        outcomes=outcomes,
        personas=list(personas),
        at=at_text,
        varying={t: varying_slots(o.values()) for t, o in outcomes.items()},
    )
    (out / "index.html").write_text(index, encoding="utf-8")
    return results
