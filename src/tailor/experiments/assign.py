"""Deterministic, sticky assignment: a hash of (experiment, recipient), no state to keep.

:func:`apply_experiments` is the render's A/B step: after the rules chose a block per
slot, each running experiment's variant for this recipient may replace that choice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tailor.experiments.spec import Experiment

if TYPE_CHECKING:
    from tailor.rules.model import SlotDecision

HOLDOUT = "holdout"


def bucket(experiment: str, recipient_id: str) -> float:
    """A uniform number in [0, 1) that depends only on the experiment and the recipient."""
    digest = hashlib.sha256(f"{experiment}\x00{recipient_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_share(name: str, recipient_id: Any, share: float) -> bool:
    """Whether this recipient falls in ``share`` of everyone for ``name`` (sticky: a hash of both).

    The global control group and a recommendation challenger's ramp use it; no recipient id, no share.
    """
    return bool(recipient_id) and share > 0 and bucket(name, str(recipient_id)) < share


def assign(experiment: Experiment, recipient_id: str) -> str:
    """The variant name (or ``"holdout"``) this recipient always gets in ``experiment``."""
    point = bucket(experiment.name, recipient_id)
    if point < experiment.holdout:
        return HOLDOUT
    # spread the rest of [0, 1) over the variants by weight
    point = (point - experiment.holdout) / (1 - experiment.holdout)
    total = sum(v.weight for v in experiment.variants)
    edge = 0.0
    for variant in experiment.variants:
        edge += variant.weight / total
        if point < edge:
            return variant.name
    return experiment.variants[-1].name


def apply_experiments(
    experiments: Iterable[Experiment],
    template: str,
    slots: Sequence[str],
    recipient_id: str | None,
    blocks: dict[str, str],
    trace: list[dict[str, Any]],
    decided: Sequence[SlotDecision],
    variables: dict[str, Any],
    forced: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Sticky variant per running experiment; a variant's blocks replace the default choice.

    ``blocks``, ``trace`` and ``variables`` are updated in place; returns
    ``{experiment: {"variant": ..., "holdout": bool}}`` for the email and the exposures.
    ``forced`` (experiment → variant, chosen in a preview) wins over the assignment.
    """
    chosen: dict[str, Any] = {}
    for experiment in experiments:
        if not experiment.applies_to(template, slots):
            continue
        chosen_here = (forced or {}).get(experiment.name)
        if chosen_here not in {HOLDOUT, *(v.name for v in experiment.variants)}:
            chosen_here = None
        if not recipient_id and chosen_here is None:
            trace.append({"experiment": experiment.name, "variant": None, "why": "no recipient id: not enrolled"})
            continue
        variant_name = chosen_here or assign(experiment, str(recipient_id))
        entry: dict[str, Any] = {"experiment": experiment.name, "variant": variant_name, "overrides": {}}
        if chosen_here is not None:
            entry["why"] = "chosen in the preview"
        if variant_name != HOLDOUT:
            variant = next(v for v in experiment.variants if v.name == variant_name)
            for slot, block in variant.blocks.items():
                slot_decision = next((d for d in decided if d.slot == slot), None)
                if slot not in slots:
                    continue
                kept = slot_decision.reason if slot_decision is not None else "default"
                if kept != "default" and not experiment.override_rules:
                    entry["overrides"][slot] = f"kept {kept} (a targeted rule wins)"
                    continue
                blocks[slot] = block
                entry["overrides"][slot] = block
            variables.update(variant.set)
        chosen[experiment.name] = {"variant": variant_name, "holdout": variant_name == HOLDOUT}
        trace.append(entry)
    return chosen
