"""The result of one render, and the errors a render can end with."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tailor.rules.model import SlotDecision


@dataclass
class Email:
    """A personalized email for one recipient, with the reasons behind it."""

    template: str
    template_version: str
    subject: str
    preheader: str
    html: str
    text: str
    #: the decision trace: per slot, every rule considered and why it matched or not
    decisions: list[dict[str, Any]] = field(default_factory=list)
    #: every default taken because data or a service was missing, with its reason
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    experiments: dict[str, Any] = field(default_factory=dict)
    #: slot -> block that filled it
    blocks: dict[str, str] = field(default_factory=dict)
    triggers: dict[str, Any] = field(default_factory=dict)
    recommendations: dict[str, Any] = field(default_factory=dict)
    #: headers the sender must set (``Message-ID``, ``List-Unsubscribe``, ``List-Unsubscribe-Post``)
    headers: dict[str, str] = field(default_factory=dict)
    #: who it is for (kept out of ``to_dict``: the CLI's JSON and logs carry no address)
    recipient_id: str | None = field(default=None, repr=False, metadata={"json": False})
    recipient_email: str | None = field(default=None, repr=False, metadata={"json": False})
    #: ``transactional: true`` in the template's settings (not capped, not counted)
    transactional: bool = field(default=False, metadata={"json": False})
    #: the typed per-slot decisions behind ``decisions`` (code reads winners here, not the text)
    slot_decisions: list[SlotDecision] = field(default_factory=list, repr=False, metadata={"json": False})
    #: the recipient's segments, and whether they are in the global control group (the sends log)
    segments: list[str] = field(default_factory=list, repr=False, metadata={"json": False})
    control: bool = field(default=False, repr=False, metadata={"json": False})

    def to_dict(self) -> dict[str, Any]:
        """The JSON the CLI prints: every field but the typed ones ``decisions`` already shows."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.metadata.get("json", True)}

    def winning_rules(self) -> dict[str, str]:
        """slot → id of the rule that chose its block (slots filled by a default are left out)."""
        return {d.slot: d.rule_id for d in self.slot_decisions if d.rule_id is not None}


class TailorError(Exception):
    """Base of every error a render reports to its caller (never a stack trace)."""

    status = 500
    kind = "internal"


class InvalidInput(TailorError):
    """The request or profile document is malformed; ``pointer`` names the bad field."""

    status = 400
    kind = "invalid-input"

    def __init__(self, message: str, pointer: str = ""):
        self.pointer = pointer
        super().__init__(f"{pointer}: {message}" if pointer else message)


class TemplateNotFound(TailorError):
    status = 404
    kind = "unknown-template"


class TemplateBroken(TailorError):
    """The template does not compile; ``problems`` are the ``path:line:col`` findings."""

    status = 422
    kind = "broken-template"

    def __init__(self, template: str, problems: list[Any]):
        self.problems = problems
        first = str(problems[0]) if problems else "unknown problem"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"template {template!r} does not compile: {first}{more}")


class RenderAborted(TailorError):
    """An ``abort`` rule (or a missing consent / suppression) says: skip this recipient."""

    status = 422
    kind = "aborted"

    def __init__(self, reason: str, rule: str | None = None, decisions: list[dict[str, Any]] | None = None):
        self.reason = reason
        self.rule = rule
        self.decisions = decisions or []
        super().__init__(reason)


class RenderFailed(TailorError):
    """The template raised for this recipient outside any slot (no fallback possible)."""

    status = 422
    kind = "render-failed"


class RenderLimit(TailorError):
    """The template (or a rule condition) ran past a limit: the render's deadline or a size cap.

    422, not 503: the same template and data hit the same limit again, so a retry
    (ESPs retry 5xx for hours) would only hold another worker for the same time.
    """

    status = 422
    kind = "render-limit"
