"""Outcomes of personalization: the sends log, last-touch attribution, rates, lift and the CLI."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.monitor.config import OutcomeSettings
from tailor.monitor.outcomes import Rate, outcomes, report_from_store
from tailor.monitor.sends import CONTROL_GROUP, in_control_group
from tailor.monitor.simulation import simulate_sends

ROOT = Path(__file__).resolve().parents[2]
# in the past: ingestion clamps event times that lie after their receive time
DAY0 = datetime(2026, 11, 16, 9, tzinfo=UTC)
READ_AT = DAY0 + timedelta(days=30)
SETTINGS = OutcomeSettings(within=timedelta(days=7))


def send(pid: str, key: str, when: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "profile_id": pid,
        "send_key": key,
        "template": fields.get("template", "newsletter"),
        "sent_at": pd.Timestamp(when),
        "control": fields.get("control", False),
        "blocks": fields.get("blocks", {"hero": "hero/generic"}),
        "rules": fields.get("rules", {"hero": None}),
        "segments": fields.get("segments", []),
        "recs": fields.get("recs", {}),
    }


def event(pid: str, name: str, when: datetime, **properties: Any) -> dict[str, Any]:
    return {"profile_id": pid, "event": name, "timestamp": pd.Timestamp(when), "properties": properties}


def report(sends: list[dict], events: list[dict], at: datetime = READ_AT, **kwargs: Any):
    columns = ["profile_id", "event", "timestamp", "properties"]
    return outcomes(
        pd.DataFrame(sends),
        pd.DataFrame(events, columns=columns),
        kwargs.pop("settings", SETTINGS),
        since=DAY0 - timedelta(days=10),
        until=DAY0 + timedelta(days=10),
        at=at,
        **kwargs,
    )


def test_an_order_counts_for_the_last_send_before_it_only() -> None:
    sends = [
        send("a", "s1", DAY0, blocks={"hero": "hero/vip"}),
        send("a", "s2", DAY0 + timedelta(days=2), blocks={"hero": "hero/generic"}),
    ]
    events = [event("a", "Order Completed", DAY0 + timedelta(days=3), total=80.0)]
    result = report(sends, events)
    assert result.row("block", "hero: hero/generic").conversions.hits == 1
    assert result.row("block", "hero: hero/vip").conversions.hits == 0
    assert result.row("template", "newsletter").revenue == 80.0


def test_events_outside_the_window_or_before_any_send_count_for_nothing() -> None:
    sends = [send("a", "s1", DAY0)]
    events = [
        event("a", "Order Completed", DAY0 + timedelta(days=8), total=10.0),  # past the 7-day window
        event("a", "Order Completed", DAY0 - timedelta(hours=1), total=10.0),  # before the send
        event("b", "Order Completed", DAY0 + timedelta(hours=1), total=10.0),  # someone not sent to
    ]
    row = report(sends, events).row("template", "newsletter")
    assert (row.sends, row.conversions.hits, row.revenue) == (1, 0, 0.0)


def test_two_orders_after_one_send_are_one_conversion_and_both_revenues() -> None:
    events = [
        event("a", "Order Completed", DAY0 + timedelta(hours=2), total=30.0),
        event("a", "Order Completed", DAY0 + timedelta(hours=5), revenue=12.5),
        event("a", "Email Link Clicked", DAY0 + timedelta(hours=1), url="https://shop.example.com/"),
    ]
    row = report([send("a", "s1", DAY0)], events).row("template", "newsletter")
    assert row.conversions.hits == 1 and row.conversions.n == 1
    assert row.clicks.hits == 1
    assert row.revenue == 42.5 and row.revenue_per_send == 42.5


def test_sends_still_inside_their_window_are_pending_not_counted() -> None:
    at = DAY0 + timedelta(days=8)
    sends = [send("a", "old", DAY0), send("b", "new", DAY0 + timedelta(days=5))]
    result = report(sends, [], at=at)
    assert result.pending == 1
    assert result.row("template", "newsletter").sends == 1


def test_control_sends_are_the_baseline_and_in_no_other_row() -> None:
    sends = [send(f"c{i}", f"c{i}", DAY0, control=True) for i in range(100)]
    sends += [send(f"t{i}", f"t{i}", DAY0, blocks={"hero": "hero/vip"}) for i in range(100)]
    events = [event(f"c{i}", "Order Completed", DAY0 + timedelta(hours=1), total=1.0) for i in range(5)]
    events += [event(f"t{i}", "Order Completed", DAY0 + timedelta(hours=1), total=1.0) for i in range(15)]
    result = report(sends, events)
    control = result.row("control", "control group")
    assert (control.sends, control.conversions.hits, control.lift) == (100, 5, None)
    vip = result.row("block", "hero: hero/vip")
    assert vip.sends == 100  # the control group's default hero is not counted here
    assert vip.lift == pytest.approx(2.0)  # 15% against 5%
    assert vip.p_value < 0.05
    assert vip.diff_low > 0


def test_rows_per_rule_segment_and_recommender() -> None:
    sends = [
        send("a", "s1", DAY0, rules={"hero": "vip", "offer": None}, segments=["vip", "french_speaking"],
             recs={"provider": "hybrid", "products": ["sku-1", "sku-2"]}),
        send("b", "s2", DAY0, rules={"hero": None}, recs={"provider": "popular", "products": ["sku-3"]}),
    ]  # fmt: skip
    events = [
        event("a", "Order Completed", DAY0 + timedelta(hours=3), total=5.0, products=[{"product_id": "sku-2"}]),
        event("b", "Email Link Clicked", DAY0 + timedelta(hours=1), url="https://Shop.example.com/p/sku-3/?utm_x=1"),
    ]
    urls = {"sku-3": "https://shop.example.com/p/sku-3"}
    result = report(sends, events, product_urls=urls)
    assert {r.value for r in result.rows_of("rule")} == {"hero: vip", "offer: (default)", "hero: (default)"}
    assert {r.value for r in result.rows_of("segment")} == {"vip", "french_speaking", "(none)"}
    hybrid, popular = result.row("recommender", "hybrid"), result.row("recommender", "popular")
    assert hybrid.recs_purchases.hits == 1 and hybrid.recs_clicks.hits == 0
    assert popular.recs_purchases.hits == 0 and popular.recs_clicks.hits == 1


def test_rates_carry_wilson_intervals() -> None:
    rate = Rate.of(5, 10)
    assert (round(rate.low, 4), round(rate.high, 4)) == (0.2366, 0.7634)
    none = Rate.of(0, 20)
    assert none.low == 0 and 0.15 < none.high < 0.17
    assert math.isnan(Rate.of(0, 0).rate)


def test_the_control_group_is_sticky_and_about_the_configured_share() -> None:
    ids = [f"u-{i:05d}" for i in range(20_000)]
    share = sum(in_control_group(pid, 0.1) for pid in ids) / len(ids)
    assert 0.09 < share < 0.11
    assert [in_control_group(pid, 0.1) for pid in ids[:50]] == [in_control_group(pid, 0.1) for pid in ids[:50]]
    assert not any(in_control_group(pid, 0.0) for pid in ids[:1000])
    assert CONTROL_GROUP not in ids


# -- the real path: a store, Tailor.render, simulated outcomes ---------------------------


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The shop's people and catalog (no history: every order is a simulated one), a 20% control group,
    2 days of newsletters to 120 recipients, simulated outcomes."""
    from sqlalchemy import select

    from tailor import Tailor
    from tailor.store.models import Profile

    folder = tmp_path_factory.mktemp("week")
    shutil.copytree(ROOT / "rules", folder / "rules")
    (folder / "rules" / "monitor.yaml").write_text("monitor:\n  outcomes:\n    control_share: 0.2\n")
    url = f"sqlite:///{folder / 'shop.db'}"
    engine = Tailor(ROOT / "templates", folder / "rules", url, create_store=True)
    store = engine.store
    for name in ("catalog.csv", "profiles.csv"):
        store.ingest_file(ROOT / "fixtures" / name)
    with store.engine.connect() as conn:
        people = sorted(conn.execute(select(Profile.id).where(Profile.email.is_not(None))).scalars())[:120]
    simulated = simulate_sends(
        engine, people, templates=["newsletter"], start=DAY0, days=2, rng=np.random.default_rng(4)
    )
    # a second render of a send already made (the ESP asked for the text part) adds no send
    engine.render("newsletter", recipient={"id": people[0]}, at=DAY0, send_id=f"sim-newsletter-0-{people[0]}")
    return {"engine": engine, "store": store, "simulated": simulated, "folder": folder, "url": url}


def test_every_send_is_logged_once_and_attribution_matches_the_simulated_truth(week: dict[str, Any]) -> None:
    simulated = week["simulated"]
    result = report_from_store(week["store"], SETTINGS, since=DAY0, until=DAY0 + timedelta(days=3), at=READ_AT)
    rows = [*result.rows_of("template"), *result.rows_of("control")]
    assert sum(r.sends for r in rows) == simulated.sends  # one row per send, the repeated render included
    assert result.row("control", "control group").sends == simulated.control
    assert 0.1 < simulated.control / simulated.sends < 0.3
    truth_clicks = sum(clicked for clicked, _ in simulated.truth.values())
    truth_conversions = sum(converted for _, converted in simulated.truth.values())
    assert sum(r.clicks.hits for r in rows) == truth_clicks
    assert sum(r.conversions.hits for r in rows) == truth_conversions
    assert truth_conversions > 0


def test_control_group_renders_are_not_personalized(week: dict[str, Any]) -> None:
    from sqlalchemy import select

    from tailor.store.models import Send

    with week["store"].engine.connect() as conn:
        rows = conn.execute(select(Send.control, Send.rules)).all()
    control_rules = {rule for control, rules in rows if control for rule in rules.values()}
    treated_rules = {rule for control, rules in rows if not control for rule in rules.values()}
    assert treated_rules - {None}, "personalized sends had winning rules"
    assert not control_rules & {"vip", "cart-reminder", "browse-reminder", "lapsed-win-back"}


def test_the_sends_log_holds_no_personal_data_and_is_erased_with_the_person(week: dict[str, Any]) -> None:
    from sqlalchemy import func, select

    from tailor.store.models import Send

    store = week["store"]
    with store.engine.connect() as conn:
        pid = conn.execute(select(Send.profile_id).limit(1)).scalar_one()
        row = conn.execute(select(Send.__table__).where(Send.profile_id == pid).limit(1)).one()._mapping
    assert set(row) == {
        "id",
        "profile_id",
        "send_key",
        "template",
        "sent_at",
        "control",
        "blocks",
        "rules",
        "segments",
        "recs",
        "fallbacks",
    }
    assert "@" not in json.dumps([row["blocks"], row["rules"], row["segments"], row["recs"], row["fallbacks"]])
    exported = store.export_profile(pid)
    assert exported["other"]["sends"], "a data-subject export lists the person's sends"
    store.erase_profile(pid)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Send).where(Send.profile_id == pid)).scalar() == 0


def test_the_cli_prints_the_table_and_json(week: dict[str, Any]) -> None:
    command = [
        sys.executable, "-c", "from tailor.cli import main; main()", "monitor", "outcomes",
        "--database-url", week["url"], "--rules", str(week["folder"] / "rules"),
        "--since", DAY0.date().isoformat(), "--until", "2026-11-19", "--at", READ_AT.isoformat(),
    ]  # fmt: skip
    text = subprocess.run(command, capture_output=True, text=True, cwd=week["folder"])
    assert text.returncode == 0, text.stderr
    assert "control group" in text.stdout and "hero: hero/" in text.stdout
    as_json = subprocess.run([*command, "--format", "json"], capture_output=True, text=True, cwd=week["folder"])
    data = json.loads(as_json.stdout)
    templates = [r for r in data["rows"] if r["dimension"] == "template"]
    control = [r for r in data["rows"] if r["dimension"] == "control"]
    from sqlalchemy import func, select

    from tailor.store.models import Send

    with week["store"].engine.connect() as conn:
        logged = conn.execute(select(func.count()).select_from(Send)).scalar()
    assert templates[0]["sends"] + control[0]["sends"] == logged  # (another test erased one person)
    assert 0 <= templates[0]["conversions"]["rate"] <= 1


@pytest.mark.slow
def test_the_docs_week_is_what_the_script_prints(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    example = doc.split("$ python scripts/simulate_outcomes.py ", 1)[1].split("```", 1)[0].splitlines()
    arguments, shown = example[0].split(), [line for line in example[1:] if line.strip()]
    arguments[arguments.index("--database-url") + 1] = f"sqlite:///{tmp_path / 'week.db'}"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "simulate_outcomes.py"), *arguments, "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert all(line in printed for line in shown), done.stdout


def test_a_champion_and_its_challenger_are_two_recommender_rows() -> None:
    champion = {"provider": "hybrid", "version": "20261101T000000000000Z", "products": ["p1"]}
    challenger = {"provider": "hybrid", "version": "20261129T000000000000Z", "products": ["p2"]}
    sends = [send(f"a{i}", f"a{i}", DAY0, recs=champion) for i in range(10)]
    sends += [send(f"b{i}", f"b{i}", DAY0, recs=challenger) for i in range(10)]
    sends += [send("c", "c", DAY0, recs={"provider": "popular", "products": ["p3"]})]
    events = [event("b1", "Order Completed", DAY0 + timedelta(hours=2), total=9.0, products=[{"product_id": "p2"}])]
    result = report(sends, events)
    rows = {r.value: r for r in result.rows_of("recommender")}
    assert set(rows) == {"hybrid@20261101T000000000000Z", "hybrid@20261129T000000000000Z", "popular"}
    assert rows["hybrid@20261129T000000000000Z"].recs_purchases.hits == 1
    assert rows["hybrid@20261101T000000000000Z"].recs_purchases.hits == 0
