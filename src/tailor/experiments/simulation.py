"""Seeded simulations that check the report's conclusions against a known truth.

Used by ``tests/experiments/test_simulation.py`` (small, fast) and
``benchmarks/experiments.py`` (the full table in docs/experiments.md). Four questions:

* **coverage / false positives / power** — experiments with a known true difference,
  read with the report's own :func:`~tailor.experiments.stats.compare`;
* **the real path** — a shop whose rules declare many experiments is sent to (Tailor.render
  with a store and a send id: assignment and exposures are the product's), conversions are
  ingested as Segment events, and :func:`~tailor.experiments.report.report_from_store`
  reads them back; every experiment sees the same recipients, so this also checks that
  experiments attribute independently;
* **sample-ratio mismatch** — real hash assignment with a share of one arm's exposures lost;
* **peeking** — the report read every day: naive (stop at the first p < 0.05) against the
  report's plan-gated verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tailor.experiments.assign import assign
from tailor.experiments.exposures import now_naive
from tailor.experiments.report import NO_DIFFERENCE, SIGNIFICANT, build_report
from tailor.experiments.spec import Experiment, Variant
from tailor.experiments.stats import SRM_ALPHA, compare, make_plan, sample_ratio_mismatch


@dataclass
class Outcome:
    """How often, over ``experiments`` runs, the interval covered the truth and the test said "different"."""

    experiments: int
    covered: int
    positives: int

    @property
    def coverage(self) -> float:
        return self.covered / self.experiments

    @property
    def positive_rate(self) -> float:
        return self.positives / self.experiments


def report_level(
    rng: np.random.Generator, experiments: int, per_arm: int, baseline: float, lift: float, alpha: float = 0.05
) -> Outcome:
    """Binomial conversions per arm (vectorized), each experiment read with the report's ``compare``."""
    treated = baseline * (1 + lift)
    control_conv = rng.binomial(per_arm, baseline, experiments)
    treated_conv = rng.binomial(per_arm, treated, experiments)
    covered = positives = 0
    for c, t in zip(control_conv, treated_conv, strict=True):
        _, low, high, p_value = compare((int(c), per_arm), (int(t), per_arm), confidence=1 - alpha)
        covered += low <= treated - baseline <= high
        positives += p_value < alpha
    return Outcome(experiments, covered, positives)


def srm_detection(
    rng: np.random.Generator,
    experiments: int,
    recipients: int,
    lost_share: float = 0.0,
    assigned_weights: tuple[float, float] = (1, 1),
) -> tuple[float, float]:
    """(flag rate of a broken experiment, flag rate of a healthy one), both declared 50/50.

    Broken: ``lost_share`` of the treatment's exposures never logged, and/or the real hash
    assignment running at ``assigned_weights`` (a deploy with other weights than the YAML's).
    """
    declared = Experiment("srm", (Variant("control", 1), Variant("treatment", 1)))
    skewed = Experiment("srm", (Variant("control", assigned_weights[0]), Variant("treatment", assigned_weights[1])))
    flagged = {True: 0, False: 0}
    for run in range(experiments):
        ids = [f"srm-{run}-{i}" for i in range(recipients)]
        for broken in (True, False):
            arms = [assign(skewed if broken else declared, i) for i in ids]
            seen = {"control": arms.count("control"), "treatment": arms.count("treatment")}
            if broken and lost_share:
                seen["treatment"] = int(rng.binomial(seen["treatment"], 1 - lost_share))
            p_value = sample_ratio_mismatch(seen, declared.expected_shares())
            flagged[broken] += p_value is not None and p_value < SRM_ALPHA
    return flagged[True] / experiments, flagged[False] / experiments


@dataclass
class Peeking:
    experiments: int
    #: share of null experiments declared significant when stopping at the first daily p < alpha
    naive: float
    #: share declared significant by the report's plan-gated verdict, read every day
    gated: float
    #: share of gated experiments that had reached a verdict by the last day
    decided: float


def peeking(
    rng: np.random.Generator,
    experiments: int,
    days: int,
    per_arm_per_day: int,
    baseline: float,
    mde: str,
    window_days: int = 3,
    lift: float = 0.0,
) -> Peeking:
    """Read each experiment's report at the end of every day, as a marketer checking a dashboard would."""
    plan = make_plan(baseline, mde)
    window = timedelta(days=window_days)
    ab = Experiment("peek", (Variant("control", 1), Variant("treatment", 1)), conversion_window=window, plan=plan)
    start = datetime(2026, 1, 1)
    naive_hits = gated_hits = decided = 0
    for run in range(experiments):
        n = days * per_arm_per_day * 2
        variant = np.repeat(["control", "treatment"], n // 2)
        exposed = start + pd.to_timedelta(
            np.tile(np.repeat(np.arange(days), per_arm_per_day), 2) * 86400 + rng.uniform(0, 86400, n), unit="s"
        )
        rate = np.where(variant == "control", baseline, baseline * (1 + lift))
        converts = rng.random(n) < rate
        delay = pd.to_timedelta(rng.uniform(0, window.total_seconds(), n), unit="s")
        ids = np.array([f"{run}-{i}" for i in range(n)])
        exposures = pd.DataFrame({"profile_id": ids, "variant": variant, "exposed_at": exposed})
        events = pd.DataFrame(
            {"profile_id": ids[converts], "event": "Order Completed", "timestamp": (exposed + delay)[converts]}
        )
        naive_done = gated_done = False
        exposed_at = exposed.to_numpy()
        converted_at = np.where(converts, (exposed + delay).to_numpy(), np.datetime64("NaT"))
        treated = variant == "treatment"
        for day in range(1, days + 1):
            now = start + timedelta(days=day)
            if not naive_done:
                seen = exposed_at <= np.datetime64(now)
                conv = seen & (converted_at <= np.datetime64(now))
                c_n, t_n = int((seen & ~treated).sum()), int((seen & treated).sum())
                c_conv, t_conv = int((conv & ~treated).sum()), int((conv & treated).sum())
                _, _, _, p_value = compare((c_conv, c_n), (t_conv, t_n))
                if p_value < 0.05:
                    naive_hits += 1
                    naive_done = True
            if not gated_done:
                report = build_report(
                    ab, exposures[exposures["exposed_at"] <= now], events[events["timestamp"] <= now], now=now
                )
                if report.status in (SIGNIFICANT, NO_DIFFERENCE):
                    gated_done = True
                    decided += 1
                    gated_hits += report.status == SIGNIFICANT
            if naive_done and gated_done:
                break
    return Peeking(experiments, naive_hits / experiments, gated_hits / experiments, decided / experiments)


SIM_TEMPLATE = """---
subject: "Hello"
---
<mjml><mj-body><mj-section><mj-column>
<mj-text>{{ headline | default('Hello') }}</mj-text>
</mj-column></mj-section></mj-body></mjml>
"""


@dataclass
class FullPath:
    outcome_null: Outcome
    outcome_lift: Outcome
    recipients: int
    exposures: int
    #: experiments whose report counted the same recipients as were rendered
    recipients_match: bool
    seconds: float


def full_path(
    folder: Path,
    database_url: str,
    rng: np.random.Generator,
    experiments: int,
    recipients: int,
    baseline: float,
    lift: float,
) -> FullPath:
    """``experiments`` A/B tests (half with ``lift``, half with none) sent to the same ``recipients``.

    Every recipient is rendered once through :meth:`Tailor.render` with a store and a send
    id (one exposure per experiment), converts per experiment with that experiment's true
    rate for the variant the render chose, and the report is read from the store.
    """
    from tailor import Tailor

    started = time.perf_counter()
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    (folder / "rules").mkdir(parents=True, exist_ok=True)
    (folder / "templates" / "sim.mjml").write_text(SIM_TEMPLATE, encoding="utf-8")
    lifts = {f"sim-{i:03d}": (lift if i % 2 else 0.0) for i in range(experiments)}
    spec = {
        "experiments": {
            name: {
                "templates": ["sim"],
                "variants": {"control": {}, "treatment": {"set": {"headline": "Hi"}}},
                "conversion": {"event": f"Converted {name}", "within": "7d"},
                "secondary": [],
            }
            for name in lifts
        }
    }
    (folder / "rules" / "experiments.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    shop = Tailor(folder / "templates", folder / "rules", database_url, create_store=True)
    store = shop.store
    later = (datetime.now().astimezone() + timedelta(hours=1)).isoformat()
    messages: list[dict[str, Any]] = []
    for i in range(recipients):
        recipient = f"sim-r{i}"
        email = shop.render("sim", profile={"id": recipient}, send_id=f"send-{i}")
        draws = rng.random(len(lifts))
        for (name, true_lift), draw in zip(lifts.items(), draws, strict=True):
            treated = email.experiments[name]["variant"] == "treatment"
            if draw < baseline * (1 + true_lift) if treated else draw < baseline:
                messages.append(
                    {
                        "type": "track",
                        "userId": recipient,
                        "event": f"Converted {name}",
                        "timestamp": later,
                        "messageId": f"conv-{name}-{recipient}",
                    }
                )
        # a preview-like second render of the same send adds no exposure
        if i % 50 == 0:
            shop.render("sim", profile={"id": recipient}, send_id=f"send-{i}")
    for start in range(0, len(messages), 1000):
        store.ingest(messages[start : start + 1000])
    from tailor.experiments.report import report_from_store

    read_at = now_naive() + timedelta(days=30)
    null = Outcome(0, 0, 0)
    positive = Outcome(0, 0, 0)
    matches = True
    exposures = 0
    for name, true_lift in lifts.items():
        report = report_from_store(store, shop.experiments[name], now=read_at)
        control, treatment = report.arms
        exposures += control.recipients + treatment.recipients
        matches &= control.recipients + treatment.recipients == recipients
        truth = baseline * true_lift
        target = positive if true_lift else null
        target.experiments += 1
        target.covered += bool(
            treatment.diff_low is not None and treatment.diff_low <= truth <= (treatment.diff_high or 0)
        )
        target.positives += bool(treatment.p_value is not None and treatment.p_value < 0.05)
    return FullPath(null, positive, recipients, exposures, matches, time.perf_counter() - started)
