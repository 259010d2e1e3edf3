"""A simulated week of newsletter sends to the example shop, then `tailor monitor outcomes`.

    python scripts/simulate_outcomes.py --database-url sqlite:///week.db

Loads the example shop into a new store, copies its rules with a 10% control group
(``monitor: outcomes: control_share: 0.1``) into ``--workdir``, sends the newsletter to
every sendable recipient once a day for 7 days from 2026-11-16 through Tailor.render
(so the sends log is the product's), simulates clicks and orders with the known effects
of tailor.monitor.simulation.SHOP_EFFECTS, and prints the outcomes report read at
2026-11-30. The shop's own orders of that week count too, as they would in a real shop.
Seeded: the same command prints the same table.
"""

from __future__ import annotations

import argparse
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tailor import Tailor
from tailor.monitor.config import load_monitor
from tailor.monitor.outcomes import report_from_store
from tailor.monitor.simulation import simulate_sends

ROOT = Path(__file__).resolve().parents[1]
# A week in the past: ingestion clamps event times later than their receive time, so a
# simulated future would land on the clock of whoever runs the script.
START = datetime(2026, 11, 16, tzinfo=UTC)
READ_AT = datetime(2026, 11, 30, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workdir", type=Path, default=Path("simulated-week"))
    parser.add_argument("--recipients", type=int, default=0, help="only the first N profiles (0: all)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    rules = args.workdir / "rules"
    shutil.rmtree(rules, ignore_errors=True)
    shutil.copytree(ROOT / "rules", rules)
    (rules / "monitor.yaml").write_text("monitor:\n  outcomes:\n    control_share: 0.1\n    within: 7d\n")
    engine = Tailor(ROOT / "templates", rules, args.database_url, create_store=True)
    store = engine.store
    for name in ("catalog.csv", "profiles.csv", "events.jsonl"):
        store.ingest_file(ROOT / "fixtures" / name)
    people = _addressable(store)
    if args.recipients:
        people = people[: args.recipients]
    week = simulate_sends(
        engine, people, templates=["newsletter"], start=START, days=args.days, rng=np.random.default_rng(args.seed)
    )
    print(f"{week.sends} sends ({week.control} in the control group, {week.refused} refused), {week.events} events")
    settings, _ = load_monitor(rules)
    report = report_from_store(store, settings.outcomes, since=START, until=READ_AT, at=READ_AT)
    print(report.to_text())


def _addressable(store) -> list[str]:
    """Profiles with an email address (the shop also has anonymous visitors)."""
    from sqlalchemy import select

    from tailor.store.models import Profile

    with store.engine.connect() as conn:
        return sorted(conn.execute(select(Profile.id).where(Profile.email.is_not(None))).scalars())


if __name__ == "__main__":
    main()
