"""Audience dry run: render a campaign's audience without sending, and report what it would see.

``tailor check --audience FILE`` / ``--segment NAME`` (and the studio's ``/preview/audience``)
render every recipient with :meth:`Tailor.render` — nothing is sent, no experiment exposure
is recorded — and count: which block each slot showed (reach), how often each field or
service fell back, which abort rules skipped how many people, and which rules no recipient
made win. ``--sample N`` renders a random (seeded, so repeatable) N of them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tailor.core import Tailor, parse_at
from tailor.email import RenderAborted, TailorError
from tailor.preview.coverage import aborting_rule
from tailor.preview.masking import mask_emails

#: the sample is the same for the same audience and size (a dry run is re-run after a fix)
SAMPLE_SEED = 13


@dataclass
class AudienceReport:
    """What rendering an audience with one template showed."""

    template: str
    recipients: int = 0
    rendered: int = 0
    #: abort reason → recipients skipped (consent and suppression included)
    aborted: Counter[str] = field(default_factory=Counter)
    #: error message → recipients whose render failed
    failed: Counter[str] = field(default_factory=Counter)
    #: slot → block → recipients who saw it
    reach: dict[str, Counter[str]] = field(default_factory=dict)
    #: fallback (reason and the field, filter or slot it was about) → recipients
    fallbacks: Counter[str] = field(default_factory=Counter)
    #: rule id → recipients for whom it won (abort rules: fired)
    rule_hits: Counter[str] = field(default_factory=Counter)
    #: every slot and abort rule of the template, to name the ones that never matched
    rules: list[str] = field(default_factory=list)

    @property
    def never_matched(self) -> list[str]:
        return [r for r in self.rules if not self.rule_hits[r]]

    def share(self, count: int, of: int | None = None) -> str:
        whole = self.rendered if of is None else of
        return f"{count / whole:.0%}" if whole else "—"

    def as_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "recipients": self.recipients,
            "rendered": self.rendered,
            "aborted": dict(self.aborted),
            "failed": dict(self.failed),
            "reach": {slot: dict(blocks) for slot, blocks in self.reach.items()},
            "fallbacks": dict(self.fallbacks),
            "never_matched": self.never_matched,
        }

    def lines(self) -> list[str]:
        """The report as text (``tailor check --audience``)."""
        out = [
            f"{self.template}: {self.recipients} recipients, {self.rendered} rendered, "
            f"{sum(self.aborted.values())} skipped, {sum(self.failed.values())} failed"
        ]
        for slot, blocks in sorted(self.reach.items()):
            out.append(f"  reach {slot}:")
            out += [f"    {block:<32} {n:>6}  {self.share(n)}" for block, n in blocks.most_common()]
        if self.fallbacks:
            out.append("  fallback rate per field:")
            out += [f"    {what:<44} {n:>6}  {self.share(n)}" for what, n in self.fallbacks.most_common()]
        if self.aborted:
            out.append("  aborts by reason:")
            out += [
                f"    {reason:<44} {n:>6}  {self.share(n, self.recipients)}" for reason, n in self.aborted.most_common()
            ]
        for message, n in self.failed.most_common():
            out.append(f"  failed ×{n}: {message}")
        if self.never_matched:
            out.append(f"  rules never matched: {', '.join(self.never_matched)}")
        return out


def fallback_label(fallback: Mapping[str, Any]) -> str:
    """``undefined-variable profile.first_name``: the reason and what it was about (never a value)."""
    about = fallback.get("variable") or fallback.get("filter") or fallback.get("slot") or ""
    return f"{fallback.get('reason')} {about}".strip()


def sample(recipients: list[dict[str, Any]], size: int | None) -> list[dict[str, Any]]:
    """A repeatable random ``size`` of ``recipients`` (all of them without a size)."""
    if size is None or size >= len(recipients):
        return recipients
    return random.Random(SAMPLE_SEED).sample(recipients, max(size, 0))


def segment_members(tailor: Tailor, segment: str, at: str | datetime | None = None) -> list[dict[str, Any]]:
    """``{"id": ...}`` for every stored profile in ``segment`` as of ``at`` (empty without a store)."""
    if tailor.store is None:
        return []
    return [{"id": pid} for pid in tailor.store.profile_ids() if segment in tailor.segments_of(pid, at)]


def dry_run(
    tailor: Tailor,
    template: str,
    recipients: Iterable[Mapping[str, Any]],
    at: str | datetime | None = None,
    context: Mapping[str, Any] | None = None,
) -> AudienceReport:
    """Render ``template`` for each recipient (a reference or a profile document); send nothing."""
    moment = parse_at(at)
    report = AudienceReport(template)
    book = tailor.rulebook
    try:
        slots = tailor.compile(template).slot_names
    except TailorError:
        slots = []
    report.rules = [r.id for r in book.abort_rules] + [
        r.id for s in slots if s in book.slots for r in book.slots[s].rules
    ]
    for recipient in recipients:
        report.recipients += 1
        is_document = any(k in recipient for k in ("traits", "events", "consents"))
        try:
            email = tailor.render(
                template,
                profile=recipient if is_document else None,
                recipient=None if is_document else recipient,
                at=moment,
                context=context,
                record_exposure=False,
            )
        except RenderAborted as exc:
            report.aborted[mask_emails(exc.reason)] += 1
            rule = aborting_rule(exc)
            if rule:
                report.rule_hits[rule] += 1
            continue
        except TailorError as exc:
            report.failed[mask_emails(str(exc))] += 1
            continue
        report.rendered += 1
        for slot, block in email.blocks.items():
            report.reach.setdefault(slot, Counter())[block or "(hidden)"] += 1
        for label in {fallback_label(f) for f in email.fallbacks}:
            report.fallbacks[label] += 1
        for rule in email.winning_rules().values():
            report.rule_hits[rule] += 1
    return report
