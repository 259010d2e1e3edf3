"""One studio render: template × recipient (persona, stored profile or pasted JSON) at a time, with context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from tailor import strict_json
from tailor.core import Tailor
from tailor.email import Email, RenderAborted, TailorError, TemplateBroken
from tailor.preview.faults import persona_faults, with_faults
from tailor.preview.masking import mask_emails
from tailor.preview.panel import decision_panel, rule_conditions
from tailor.preview.personas import send_context
from tailor.strict_json import InvalidJSON


@dataclass
class PreviewRequest:
    """What the render form asks for; every field is a plain string as typed."""

    template: str = ""
    persona: str = ""
    #: a stored profile: its id or email
    ref: str = ""
    #: a pasted profile document (wins over persona and ref)
    profile: str = ""
    at: str = ""
    context: str = ""
    mask: bool = True
    #: ``experiment:variant`` to preview instead of the recipient's assignment (empty: assigned)
    variant: str = ""
    #: the persona set (a sub-folder of the personas folder, e.g. ``coverage``); empty: the folder itself
    persona_set: str = ""

    @classmethod
    def from_values(cls, values: Mapping[str, str], *, mask_default: bool = True) -> PreviewRequest:
        def get(key: str) -> str:
            return (values.get(key) or "").strip()

        unmask = get("unmask") in ("1", "on", "true")
        return cls(
            get("template"),
            get("persona"),
            get("ref"),
            get("profile"),
            get("at"),
            get("context"),
            mask=mask_default and not unmask,
            variant=get("variant"),
            persona_set=get("set"),
        )

    def variants(self) -> dict[str, str]:
        """experiment → variant chosen in the form (``winter-hero:gift-guide``)."""
        experiment, _, variant = self.variant.partition(":")
        return {experiment: variant} if experiment and variant else {}

    @property
    def source(self) -> str:
        return "json" if self.profile else "ref" if self.ref else "persona"

    def recipient_label(self) -> str:
        if self.profile:
            return "pasted profile"
        if self.ref:
            return f"stored profile {mask_emails(self.ref) if self.mask else self.ref}"
        return f"persona {self.persona}" if self.persona else "anonymous"


@dataclass
class PreviewOutcome:
    """A render, or the readable reason there is none (never a blank page)."""

    request: PreviewRequest
    email: Email | None = None
    error: str | None = None
    error_kind: str | None = None
    details: list[str] = field(default_factory=list)

    @property
    def html(self) -> str:
        if self.email is None:
            return ""
        return mask_emails(self.email.html) if self.request.mask else self.email.html

    @property
    def text(self) -> str:
        if self.email is None:
            return ""
        return mask_emails(self.email.text) if self.request.mask else self.email.text

    def inbox(self) -> tuple[str, str]:
        if self.email is None:
            return "", ""
        subject, pre = self.email.subject, self.email.preheader
        return (mask_emails(subject), mask_emails(pre)) if self.request.mask else (subject, pre)


class InputError(ValueError):
    """The form itself is wrong (bad JSON, unknown persona): shown next to the form."""


def render_preview(tailor: Tailor, personas: Mapping[str, Mapping[str, Any]], req: PreviewRequest) -> PreviewOutcome:
    """Render ``req``; every failure becomes an outcome with a message, never an exception."""
    try:
        kwargs = _recipient(tailor, personas, req)
        typed = json_object(req.context, "ESP context") if req.context else {}
        # the persona file's own send-time data, with what was typed in the form on top
        persona = personas[req.persona] if req.source == "persona" and req.persona in personas else {}
        context = {**send_context(persona), **typed} or None
        # a preview is not a send: it must not count anyone as exposed to an experiment's variant
        email = with_faults(tailor, persona_faults(persona)).render(
            req.template,
            at=req.at or None,
            context=context,
            record_exposure=False,
            variants=req.variants() or None,
            **kwargs,
        )
    except InputError as exc:
        return PreviewOutcome(req, error=str(exc), error_kind="invalid-input")
    except RenderAborted as exc:
        return PreviewOutcome(
            req, error=f"this recipient would be skipped (HTTP 422): {exc.reason}", error_kind=exc.kind
        )
    except TemplateBroken as exc:
        return PreviewOutcome(req, error=str(exc), error_kind=exc.kind, details=[str(p) for p in exc.problems])
    except TailorError as exc:
        return PreviewOutcome(req, error=str(exc), error_kind=exc.kind)
    except Exception as exc:  # the studio shows the reason; the server log keeps the traceback
        return PreviewOutcome(req, error=f"unexpected {type(exc).__name__}: {exc}", error_kind="internal")
    return PreviewOutcome(req, email=email)


def panel_for(tailor: Tailor, outcome: PreviewOutcome) -> Markup:
    """The shared decision panel for an outcome (empty when nothing rendered)."""
    if outcome.email is None:
        return Markup("")
    try:
        conditions = rule_conditions(tailor.rulebook)
    except Exception:  # rules unreadable: the trace alone still explains the render
        conditions = {}
    return decision_panel(outcome.email, mask=outcome.request.mask, conditions=conditions)


def _recipient(tailor: Tailor, personas: Mapping[str, Mapping[str, Any]], req: PreviewRequest) -> dict[str, Any]:
    if not req.template:
        raise InputError("choose a template")
    if req.profile:
        return {"profile": json_object(req.profile, "profile JSON")}
    if req.ref:
        if tailor.store is None:
            raise InputError("no profile store is configured (TAILOR_DATABASE_URL); use a persona or paste a profile")
        key = "email" if "@" in req.ref else "id"
        stored = tailor.load_profile({key: req.ref})
        if stored is None:
            raise InputError(f"no stored profile with {key} {mask_emails(req.ref) if req.mask else req.ref}")
        return {"profile": stored}
    if req.persona:
        if req.persona not in personas:
            raise InputError(f"unknown persona {req.persona!r} (known: {', '.join(personas) or 'none'})")
        return {"profile": personas[req.persona]}
    raise InputError("choose a persona, a stored profile id/email, or paste a profile document")


def json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = strict_json.loads(text)  # no NaN, no recursion bombs, no lone surrogates
    except InvalidJSON as exc:
        where = f" at line {exc.line} column {exc.col}" if exc.line else ""
        raise InputError(f"{what}: it is not valid JSON{where}: {exc.message}") from None
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value
