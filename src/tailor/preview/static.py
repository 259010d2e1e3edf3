"""``tailor preview --out DIR``: a static site of every template × persona, for review in CI."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tailor.core import Tailor
from tailor.email import Email, TailorError
from tailor.rendering.inspect import anatomy


@dataclass
class PreviewResult:
    template: str
    persona: str
    email: Email | None
    error: str | None
    path: str


def build_static_preview(tailor: Tailor, personas: dict[str, dict[str, Any]], out: Path, at: datetime | str | None = None) -> list[PreviewResult]:
    """Render every template for every persona into ``out``; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    results: list[PreviewResult] = []
    for template in tailor.template_names():
        (out / template).mkdir(exist_ok=True)
        for persona, profile in personas.items():
            rel = f"{template}/{persona}.html"
            try:
                email = tailor.render(template, profile=profile, at=at)
                error = None
            except TailorError as exc:
                email, error = None, f"{type(exc).__name__}: {exc}"
            (out / rel).write_text(_page(template, persona, email, error), encoding="utf-8")
            if email is not None:
                (out / template / f"{persona}.email.html").write_text(email.html, encoding="utf-8")
                (out / template / f"{persona}.txt").write_text(email.text, encoding="utf-8")
            results.append(PreviewResult(template, persona, email, error, rel))
    (out / "index.html").write_text(_index(results), encoding="utf-8")
    return results


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:12px 20px}header a{color:#9ecbff}
main{padding:20px}table{border-collapse:collapse;background:#fff}td,th{border:1px solid #dde;padding:6px 10px;text-align:left;vertical-align:top}
.err{color:#b00020}.ok{color:#0a7d32}.inbox{background:#fff;border:1px solid #dde;padding:10px;margin-bottom:12px}
.inbox b{display:block}.frames{display:flex;gap:16px;align-items:flex-start}iframe{border:1px solid #ccd;background:#fff}
pre{white-space:pre-wrap;background:#fff;border:1px solid #dde;padding:10px;max-width:900px}
.hit{color:#0a7d32;font-weight:600}.miss{color:#666}
"""


def _index(results: list[PreviewResult]) -> str:
    templates = sorted({r.template for r in results})
    personas = sorted({r.persona for r in results})
    rows = []
    for template in templates:
        cells = [f"<th>{html.escape(template)}</th>"]
        for persona in personas:
            r = next(x for x in results if x.template == template and x.persona == persona)
            if r.email is not None:
                blocks = ", ".join(f"{k}: {v}" for k, v in r.email.blocks.items())
                cells.append(f'<td><a href="{html.escape(r.path)}">{html.escape(r.email.subject)}</a><br><small>{html.escape(blocks)}</small></td>')
            else:
                cells.append(f'<td class="err"><a href="{html.escape(r.path)}">{html.escape((r.error or "")[:80])}</a></td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "<tr><th>template \\ persona</th>" + "".join(f"<th>{html.escape(p)}</th>" for p in personas) + "</tr>"
    return f"<!doctype html><html><head><meta charset='utf-8'><title>tailor previews</title><style>{_STYLE}</style></head><body><header><b>tailor</b> · previews of {len(templates)} templates × {len(personas)} personas</header><main><table>{head}{''.join(rows)}</table></main></body></html>"


def _page(template: str, persona: str, email: Email | None, error: str | None) -> str:
    title = f"{template} × {persona}"
    if email is None:
        body = f"<p class='err'>{html.escape(error or '')}</p>"
    else:
        body = (
            f"<div class='inbox'><b>{html.escape(email.subject)}</b><span>{html.escape(email.preheader)}</span></div>"
            f"<div class='frames'><iframe title='desktop' width='660' height='900' src='{html.escape(persona)}.email.html'></iframe>"
            f"<iframe title='mobile' width='375' height='900' src='{html.escape(persona)}.email.html'></iframe>"
            f"<div>{decision_panel(email)}</div></div><h3>Plain text</h3><pre>{html.escape(email.text)}</pre>"
        )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style></head><body><header><a href='../index.html'>← all previews</a> · <b>{html.escape(title)}</b></header><main>{body}</main></body></html>"


def decision_panel(email: Email) -> str:
    """The 'why' of a render as HTML: decisions per slot, triggers, recommendations, fallbacks, checks."""
    parts = ["<h3>Decisions</h3>"]
    parts.append(f"<pre>{html.escape(json.dumps(email.decisions, indent=1, default=str))}</pre>")
    parts.append("<h3>Blocks</h3><ul>" + "".join(f"<li>{html.escape(k)} → <b>{html.escape(v)}</b></li>" for k, v in email.blocks.items()) + "</ul>")
    if email.triggers:
        parts.append("<h3>Triggers</h3><ul>" + "".join(
            f"<li>{html.escape(name)}: {'<span class=hit>active</span>' if state.get('active') else '<span class=miss>inactive</span>'} {html.escape(str(state.get('reason', '')))}</li>"
            for name, state in email.triggers.items()) + "</ul>")
    if email.recommendations:
        parts.append(f"<h3>Recommendations</h3><p>provider: <b>{html.escape(str(email.recommendations.get('provider')))}</b></p>")
    parts.append("<h3>Fallbacks</h3><ul>" + ("".join(f"<li><b>{html.escape(f['reason'])}</b>: {html.escape(str(f.get('detail', '')))}</li>" for f in email.fallbacks) or "<li>none</li>") + "</ul>")
    a = anatomy(email.html)
    parts.append(
        "<h3>Email checks</h3><ul>"
        f"<li>HTML size: {a.size_bytes / 1024:.1f} KB {'<span class=err>(Gmail clips above 102 KB)</span>' if a.clipped_by_gmail else '<span class=ok>(under Gmail’s 102 KB)</span>'}</li>"
        f"<li>links: {len(a.links)}</li>"
        f"<li>images without alt: {len(a.images_without_alt)}</li>"
        f"<li>images without width: {len(a.images_without_width)}</li>"
        f"<li>dark-mode meta: {'yes' if a.has_dark_mode_meta else 'no'}</li></ul>"
    )
    return "".join(parts)
