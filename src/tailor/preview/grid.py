"""The persona grid: one template for every persona, and which slots vary between them."""

from __future__ import annotations

from collections.abc import Iterable

from tailor.preview.session import PreviewOutcome


def varying_slots(outcomes: Iterable[PreviewOutcome]) -> dict[str, list[str]]:
    """Slot → the distinct blocks it took across personas, for slots with more than one."""
    rendered = [o.email for o in outcomes if o.email is not None]
    seen: dict[str, list[str]] = {}
    for email in rendered:
        for slot in email.blocks:
            seen.setdefault(slot, [])
    for email in rendered:
        for slot, blocks in seen.items():
            # a slot missing from one render was hidden for that persona: a difference too
            block = email.blocks.get(slot, "(hidden)")
            if block not in blocks:
                blocks.append(block)
    return {slot: blocks for slot, blocks in seen.items() if len(blocks) > 1}
