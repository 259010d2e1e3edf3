"""Do the experiment report's conclusions hold? A seeded simulation with a known truth (docs/experiments.md).

1. **Report level**: binomial conversions per arm for thousands of experiments, read with
   the report's own comparison: CI coverage of the true difference, false-positive rate
   at zero lift, power at the planned size.
2. **Full path**: a shop with ``--full-experiments`` experiments (half with a true lift,
   half with none) sent to ``--recipients`` recipients through ``Tailor.render`` with a
   store and a send id; conversions ingested as Segment events; the report read from the
   store. Same questions, through assignment, exposures, attribution and the store.
3. **Sample-ratio mismatch**: real hash assignment, a share of the treatment's exposures
   lost: how often the check flags it (and how often it flags a healthy experiment).
4. **Peeking**: null experiments whose report is read every day: stopping at the first
   daily p < 0.05 (naive) against the report's plan-gated verdict.

    python benchmarks/experiments.py           # the table in docs/experiments.md (~15 min on 2 shared cores)
    python benchmarks/experiments.py --small   # a quicker, noisier run
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from tailor.experiments import simulation as sim
from tailor.experiments.stats import make_plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--full-experiments", type=int, default=400, help="experiments in the full-path run")
    parser.add_argument("--recipients", type=int, default=3_000, help="recipients sent to in the full-path run")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    small = args.small
    rng = np.random.default_rng(args.seed)
    rows: list[tuple[str, str, str, str]] = []

    started = time.perf_counter()
    experiments = 2_000 if small else 10_000
    plan = make_plan(0.05, "10%")
    null = sim.report_level(rng, experiments, plan.needed, 0.05, 0.0)
    lifted = sim.report_level(rng, experiments, plan.needed, 0.05, 0.10)
    setting = f"{experiments:,} × 2 arms × {plan.needed:,} (plan: 5% baseline, +10% relative)"
    rows += [
        ("report level", setting, "95% CI covers the true difference, no lift", f"{null.coverage:.1%}"),
        ("report level", setting, "95% CI covers the true difference, +10% lift", f"{lifted.coverage:.1%}"),
        ("report level", setting, "false positives at zero lift (p < 0.05)", f"{null.positive_rate:.1%}"),
        ("report level", setting, "power at the planned size (+10% lift)", f"{lifted.positive_rate:.1%}"),
    ]
    print(f"report level done in {time.perf_counter() - started:.0f}s", flush=True)

    started = time.perf_counter()
    full_experiments, recipients = (40, 1_000) if small else (args.full_experiments, args.recipients)
    with tempfile.TemporaryDirectory() as folder:
        full = sim.full_path(Path(folder), f"sqlite:///{folder}/sim.db", rng, full_experiments, recipients, 0.10, 0.30)
    setting = f"{full_experiments} experiments (half +30%) × {recipients:,} recipients, 10% baseline"
    both = full.outcome_null.covered + full.outcome_lift.covered
    rows += [
        ("full path", setting, "95% CI covers the true difference", f"{both / full_experiments:.1%}"),
        ("full path", setting, "false positives at zero lift", f"{full.outcome_null.positive_rate:.1%}"),
        ("full path", setting, "detected (+30% lift)", f"{full.outcome_lift.positive_rate:.1%}"),
        (
            "full path",
            setting,
            "every rendered recipient counted once per experiment",
            "yes" if full.recipients_match else "NO",
        ),
    ]
    print(f"full path done in {time.perf_counter() - started:.0f}s", flush=True)

    started = time.perf_counter()
    runs = 50 if small else 200
    setting = f"{runs} experiments × 10,000 recipients, declared 50/50"
    for lost in (0.05, 0.10):
        flagged, healthy = sim.srm_detection(rng, runs, 10_000, lost_share=lost)
        rows.append(("SRM", setting, f"flagged when {lost:.0%} of one arm's exposures are lost", f"{flagged:.1%}"))
    flagged, healthy = sim.srm_detection(rng, runs, 10_000, assigned_weights=(53, 47))
    rows.append(("SRM", setting, "flagged when assignment runs at 53/47", f"{flagged:.1%}"))
    rows.append(("SRM", setting, "flagged when nothing is wrong (false alarm)", f"{healthy:.1%}"))
    print(f"SRM done in {time.perf_counter() - started:.0f}s", flush=True)

    started = time.perf_counter()
    runs = 60 if small else 300
    peek = sim.peeking(rng, runs, 28, 150, 0.10, "30%")
    peek_power = sim.peeking(rng, runs // 3, 28, 150, 0.10, "30%", lift=0.30)
    needed = make_plan(0.10, "30%").needed
    setting = f"{runs} null experiments, read daily for 28 days, 150/arm/day, plan {needed:,}/arm, 3d window"
    rows += [
        ("peeking", setting, "false positives: naive (stop at first daily p < 0.05)", f"{peek.naive:.1%}"),
        ("peeking", setting, "false positives: the report's plan-gated verdict", f"{peek.gated:.1%}"),
        ("peeking", setting, "reached a verdict within 28 days", f"{peek.decided:.1%}"),
        ("peeking", f"{runs // 3} experiments with +30% lift", "power of the gated verdict", f"{peek_power.gated:.1%}"),
    ]
    print(f"peeking done in {time.perf_counter() - started:.0f}s", flush=True)

    print(f"\nseed {args.seed}{' (--small)' if small else ''}\n")
    print("| part | setting | measure | result |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
