"""The report's conclusions against a known truth: a fast, seeded version of benchmarks/experiments.py."""

from __future__ import annotations

import numpy as np

from tailor.experiments import simulation as sim
from tailor.experiments.stats import make_plan


def test_ci_coverage_false_positives_and_power_at_the_planned_size():
    rng = np.random.default_rng(17)
    plan = make_plan(0.05, "10%")
    null = sim.report_level(rng, 1_000, plan.needed, 0.05, 0.0)
    lifted = sim.report_level(rng, 1_000, plan.needed, 0.05, 0.10)
    assert 0.93 <= null.coverage <= 0.97 and 0.93 <= lifted.coverage <= 0.97
    assert 0.03 <= null.positive_rate <= 0.07, "false-positive rate at zero lift"
    assert 0.74 <= lifted.positive_rate <= 0.86, "the plan's 80% power"


def test_the_statistics_stay_off_the_render_path():
    """Rendering imports tailor.experiments (assignment): that must not import scipy or pandas."""
    import subprocess
    import sys

    code = "import sys, tailor.experiments; print(sorted({'scipy', 'pandas'} & set(sys.modules)))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_the_real_send_path_counts_every_recipient_once_per_experiment(tmp_path, database_url):
    """Tailor.render with a store and a send id → exposures → ingested conversions → report, for 6 experiments."""
    rng = np.random.default_rng(5)
    result = sim.full_path(tmp_path, database_url, rng, experiments=6, recipients=300, baseline=0.1, lift=2.0)
    assert result.recipients_match, "each experiment counts each rendered recipient once (re-renders of a send don't)"
    assert result.exposures == 6 * 300
    assert result.outcome_lift.positives == 3, "a tripled rate is found through the real path"
    assert result.outcome_null.positives <= 1


def test_srm_is_flagged_when_one_arm_loses_exposures_or_assignment_is_skewed():
    rng = np.random.default_rng(3)
    flagged, healthy = sim.srm_detection(rng, 10, 10_000, lost_share=0.10)
    assert flagged >= 0.9 and healthy <= 0.1
    flagged, _ = sim.srm_detection(rng, 10, 10_000, assigned_weights=(55, 45))
    assert flagged >= 0.9, "real hash assignment at 55/45 against a declared 50/50"


def test_daily_peeking_inflates_naive_false_positives_but_not_the_gated_verdict():
    rng = np.random.default_rng(11)
    peek = sim.peeking(rng, 25, days=12, per_arm_per_day=60, baseline=0.2, mde="50%", window_days=2)
    assert peek.decided == 1.0, "every experiment reached its plan and a verdict"
    assert peek.gated <= 0.1
    assert peek.naive > peek.gated, (peek.naive, peek.gated)
