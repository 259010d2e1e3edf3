"""``tailor monitor drift`` on a store: a simulated shop, unchanged or with a shift injected."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from monitor_data import AT, simulate

from tailor.monitor.config import load_monitor, load_thresholds
from tailor.monitor.drift import DriftThresholds, judge
from tailor.monitor.sources import drift_checks
from tailor.store import Store

ROOT = Path(__file__).resolve().parents[2]


def loaded(url: str, **simulation) -> Store:
    store = Store(url)
    store.migrate()
    result = store.ingest(simulate(**simulation))
    assert result.accepted > 1000
    return store


def drift(store: Store, thresholds: DriftThresholds | None = None):
    thresholds = thresholds or DriftThresholds()
    return judge(drift_checks(store, AT, thresholds), thresholds, AT)


def test_an_unchanged_shop_raises_no_alert(database_url: str) -> None:
    store = loaded(database_url)
    try:
        report = drift(store)
    finally:
        store.close()
    assert report.alerts == [], report.to_text()
    names = {c.name for c in report.checks}
    assert {"events: all", "events: Order Completed", "event mix", "feature: views_30d"} <= names
    assert all(c.status == "ok" for c in report.checks if c.name == "feature: views_30d")


def test_a_lost_event_source_is_a_pipeline_alert(tmp_path: Path) -> None:
    store = loaded(f"sqlite:///{tmp_path / 'shop.db'}", shift="orders-lost")
    try:
        report = drift(store)
    finally:
        store.close()
    alerting = {c.name: c for c in report.alerts}
    assert "events: Order Completed" in alerting, report.to_text()
    assert alerting["events: Order Completed"].effect < -0.7
    assert report.causes[0] == "pipeline"
    assert "events: Product Viewed" not in alerting


def test_a_new_audience_is_an_audience_alert(tmp_path: Path) -> None:
    store = loaded(f"sqlite:///{tmp_path / 'shop.db'}", shift="big-spenders")
    try:
        report = drift(store)
    finally:
        store.close()
    alerting = {c.name: c for c in report.alerts}
    assert any(name.startswith("feature: ") for name in alerting), report.to_text()
    assert alerting["events: all"].effect > 1  # more people send more events: not a broken source
    assert report.causes == ["audience"]
    text = report.to_text()
    assert "ALERT — likely an audience shift" in text
    assert "!! numeric feature: orders_90d" in text


def test_profiles_that_refused_personalization_are_left_out(tmp_path: Path) -> None:
    store = loaded(f"sqlite:///{tmp_path / 'shop.db'}", profiles=60)
    try:
        before = {c.name: c for c in drift(store, DriftThresholds(min_samples=2)).checks}
        refused = [f"p-{i:04d}" for i in range(30)]
        store.ingest(
            [
                {
                    "type": "identify",
                    "userId": pid,
                    "messageId": f"refuse-{pid}",
                    "timestamp": "2026-09-01T00:00:00Z",
                    "traits": {"consents": {"personalization": False}},
                }
                for pid in refused
            ]
        )
        assert set(refused) <= store.personalization_refused()
        after = {c.name: c for c in drift(store, DriftThresholds(min_samples=2)).checks}
    finally:
        store.close()
    assert after["feature: views_30d"].current_n < before["feature: views_30d"].current_n


MONITOR_YAML = """\
monitor:
  drift:
    window: 7d
    reference: 21d
    false_alarm_rate: 0.05
    min_psi: 0.2
    webhook: https://ops.example.com/hooks/tailor
"""


def test_thresholds_are_read_from_the_rules_folder(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text(MONITOR_YAML)
    thresholds, problems = load_thresholds(tmp_path)
    assert problems == []
    assert thresholds.reference.days == 21
    assert thresholds.false_alarm_rate == 0.05 and thresholds.min_psi == 0.2
    assert thresholds.min_ks == DriftThresholds().min_ks
    assert thresholds.webhook == "https://ops.example.com/hooks/tailor"


@pytest.mark.parametrize(
    ("line", "where", "message"),
    [
        ("drift:\n    window: a week", "3:13", "drift: window: 'a week' is not a duration: use a duration such as 4h"),
        ("drift:\n    false_alarm_rate: 5", "3:23", "drift: false_alarm_rate: 5 must be below 1"),
        ("drift:\n    min_psi: -1", "3:14", "drift: min_psi: -1 must be a positive number"),
        ("drift:\n    webhook: ops.example.com", "3:14", "must be an http(s) URL"),
        ("drift:\n    min_sample: 40", "3:5", "drift: unknown key 'min_sample'"),
        ("outcomes:\n    control_share: 1.5", "3:20", "outcomes: control_share: 1.5 must be below 1"),
        ("outcomes:\n    conversion: []", "3:17", "outcomes: conversion: [] must be an event name"),
        ("outcome:\n    within: 7d", "2:3", "unknown key 'outcome' (known: outcomes, drift)"),
    ],
)
def test_a_mistake_in_the_settings_is_reported_where_it_is(tmp_path: Path, line: str, where: str, message: str):
    (tmp_path / "monitor.yaml").write_text(f"monitor:\n  {line}\n")
    _, problems = load_monitor(tmp_path)
    assert len(problems) == 1
    text = str(problems[0])
    assert text.startswith(f"{tmp_path / 'monitor.yaml'}:{where}: monitor: "), text
    assert message in text


def tailor_check(rules: Path, cwd: Path) -> subprocess.CompletedProcess:
    command = ["check", "--rules", str(rules), "--templates", str(ROOT / "templates")]
    code = "from tailor.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, cwd=cwd)


def test_tailor_check_accepts_a_monitor_section_and_reports_its_mistakes(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "monitor.yaml").write_text(MONITOR_YAML)
    done = tailor_check(rules, tmp_path)
    assert "monitor" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    (rules / "monitor.yaml").write_text("monitor:\n  drift:\n    window: a week\n")
    done = tailor_check(rules, tmp_path)
    assert done.returncode == 1
    expected = f"{rules / 'monitor.yaml'}:3:13: monitor: drift: window: 'a week' is not a duration: use a duration"
    assert expected in done.stdout + done.stderr


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from tailor.cli import main; main()", "monitor", "drift", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_the_cli_prints_json_and_fails_on_alert_when_asked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    loaded(url, shift="orders-lost").close()
    args = ("--database-url", url, "--rules", str(ROOT / "rules"), "--templates", str(ROOT / "templates"))
    done = cli(*args, "--at", AT.isoformat() + "Z", "--format", "json", "--prom-file", "drift.prom", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["alert"] is True
    assert report["causes"][0]["cause"] == "pipeline"
    orders = next(c for c in report["checks"] if c["name"] == "events: Order Completed")
    assert orders["status"] == "alert" and orders["effect"] < -0.7
    prom = (tmp_path / "drift.prom").read_text()
    assert 'tailor_drift_alert{cause="pipeline",check="events: Order Completed",kind="volume"} 1.0' in prom
    assert "tailor_drift_alerts " in prom
    failing = cli(*args, "--at", AT.isoformat() + "Z", "--no-segments", "--fail-on-alert", cwd=tmp_path)
    assert failing.returncode == 3
    assert "ALERT — likely a pipeline break" in failing.stdout


def test_the_cli_refuses_a_bad_window_with_one_line(tmp_path: Path) -> None:
    done = cli("--database-url", f"sqlite:///{tmp_path / 'x.db'}", "--window", "soon", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: --window/--reference: 'soon' is not a duration: use a duration such as 4h")
    assert "Traceback" not in done.stderr


def test_the_docs_pipeline_example_is_what_the_report_prints(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    shown = doc.split("```text example=orders-lost\n", 1)[1].split("```", 1)[0].splitlines()
    store = loaded(f"sqlite:///{tmp_path / 'shop.db'}", shift="orders-lost")
    try:
        printed = drift(store).to_text().splitlines()
    finally:
        store.close()
    assert shown and all(line in printed for line in shown), "\n".join(printed)
