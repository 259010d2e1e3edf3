"""The decision panel: *why* a render looks the way it does, as HTML for the studio and the static export."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from tailor.email import Email
from tailor.preview.masking import mask_data
from tailor.preview.ui import ui_env
from tailor.rendering.inspect import GMAIL_CLIP_BYTES, anatomy


@dataclass
class Check:
    """One accessibility / deliverability check of the rendered HTML."""

    name: str
    ok: bool
    detail: str
    #: a warning is worth a look; a failure would hurt the campaign
    level: str = "ok"


def email_checks(html: str) -> list[Check]:
    """The email checks QA looks at: alt text, links, size vs Gmail clipping, image widths, dark mode."""
    a = anatomy(html)
    kb = a.size_bytes / 1024
    checks = [
        Check(
            "images without alt",
            not a.images_without_alt,
            f"{len(a.images_without_alt)} of {len(a.images)} images" + _examples(a.images_without_alt),
            "fail",
        ),
        Check(
            "placeholders left in the text",
            not a.leftovers,
            f"{len(a.leftovers)} ({', '.join(dict.fromkeys(a.leftovers))})" if a.leftovers else "none",
            "fail",
        ),
        Check(
            "language (lang)",
            a.lang not in ("", "und"),
            f'<html lang="{a.lang}">' if a.lang else "no lang: screen readers guess the language",
            "warn",
        ),
        Check("links", bool(a.links), f"{len(a.links)} links", "warn"),
        Check(
            "HTML size",
            not a.clipped_by_gmail,
            f"{kb:.1f} KB of Gmail's {GMAIL_CLIP_BYTES // 1024} KB clipping limit",
            "fail",
        ),
        Check(
            "images without width",
            not a.images_without_width,
            f"{len(a.images_without_width)} of {len(a.images)} images" + _examples(a.images_without_width),
            "warn",
        ),
        Check(
            "dark-mode meta",
            a.has_dark_mode_meta,
            "color-scheme meta present" if a.has_dark_mode_meta else 'no <meta name="color-scheme">',
            "warn",
        ),
    ]
    for check in checks:
        if check.ok:
            check.level = "ok"
    return checks


def failed_check(check: Check) -> bool:
    """A check that would hurt the campaign (not just worth a look): ``tailor preview`` fails on it."""
    return not check.ok and check.level == "fail"


def _examples(srcs: list[str]) -> str:
    return f": {', '.join(srcs[:3])}{' …' if len(srcs) > 3 else ''}" if srcs else ""


def rule_conditions(rulebook: Any) -> dict[str, str]:
    """Rule id → its ``when:`` text; the trace omits it for rules it skipped."""
    found: dict[str, str] = {}
    for slot_rules in getattr(rulebook, "slots", {}).values():
        for rule in slot_rules.rules:
            found[rule.id] = rule.condition.text
    for rule in getattr(rulebook, "abort_rules", []):
        found[rule.id] = rule.condition.text
    return found


def decision_panel(email: Email, *, mask: bool = True, conditions: Mapping[str, str] | None = None) -> Markup:
    """The 'why' of a render: per slot the rules in priority order, triggers, recommendations, fallbacks, checks."""
    conditions = conditions or {}
    decisions = mask_data(email.decisions) if mask else email.decisions
    slots, aborts = [], []
    for entry in decisions:
        rules = [_rule_row(r, conditions) for r in entry.get("rules", [])]
        if "slot" in entry:
            slots.append({**entry, "rules": rules})
        else:
            aborts.append({**entry, "rules": rules})
    triggers = mask_data(email.triggers) if mask else email.triggers
    html = (
        ui_env()
        .get_template("preview/_panel.html")
        .render(
            slots=slots,
            aborts=aborts,
            triggers=triggers,
            recs=email.recommendations or {},
            fallbacks=mask_data(email.fallbacks) if mask else email.fallbacks,
            checks=email_checks(email.html),
            blocks=email.blocks,
            experiments=email.experiments,
        )
    )
    return Markup(html)


def _rule_row(rule: Mapping[str, Any], conditions: Mapping[str, str]) -> dict[str, Any]:
    """A trace entry made readable: status word, the failing part of the condition and the actual values."""
    matched = rule.get("matched")
    if rule.get("skipped"):
        status = "skipped"
    elif matched:
        status = "matched"
    else:
        status = "not matched"
    values = rule.get("values") or {}
    return {
        "id": rule.get("id"),
        "priority": rule.get("priority"),
        "when": rule.get("when") or conditions.get(str(rule.get("id")), ""),
        "status": status,
        "failed": rule.get("failed"),
        "missing": rule.get("missing"),
        "error": rule.get("error"),
        "skipped": rule.get("skipped"),
        "values": {k: json.dumps(v, default=str, ensure_ascii=False) for k, v in values.items()},
    }
