"""Deterministic, sticky assignment: a hash of (experiment, recipient), no state to keep."""

from __future__ import annotations

import hashlib

from tailor.experiments.spec import Experiment

HOLDOUT = "holdout"


def bucket(experiment: str, recipient_id: str) -> float:
    """A uniform number in [0, 1) that depends only on the experiment and the recipient."""
    digest = hashlib.sha256(f"{experiment}\x00{recipient_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


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
