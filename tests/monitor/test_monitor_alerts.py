"""Drift alerts leave tailor signed, to a real HTTP server, and as Prometheus gauges."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask, request
from monitor_data import AT, simulate
from prometheus_client.parser import text_string_to_metric_families

from tailor.client import SIGNATURE_HEADER, verify
from tailor.monitor.alerts import post_alert, write_gauges
from tailor.monitor.drift import DriftThresholds, judge, volume_check
from tailor.store import Store

SECRET = "drift-alert-secret"
ROOT = Path(__file__).resolve().parents[2]


def receiver() -> tuple[Flask, list[dict]]:
    received: list[dict] = []
    app = Flask("receiver")

    @app.post("/hooks/drift")
    def hook():
        body = request.get_data()
        try:
            verify(
                body, request.headers.get(SIGNATURE_HEADER), [SECRET], method="POST", path=request.full_path.rstrip("?")
            )
        except ValueError as exc:
            return {"error": str(exc)}, 401
        received.append({"key": request.headers.get("Idempotency-Key"), "body": request.get_json()})
        return {"ok": True}

    return app, received


def alerting_report():
    at = datetime(2026, 11, 23, tzinfo=UTC)
    check = volume_check("events: Order Completed", 280, timedelta(days=28), 7, timedelta(days=7))
    return judge([check], DriftThresholds(), at)


def test_an_alert_is_posted_signed_with_an_idempotency_key(serve) -> None:
    app, received = receiver()
    url = serve(app) + "/hooks/drift"
    report = alerting_report()
    assert report.alerts
    acknowledged, error = post_alert(report, url, SECRET)
    assert acknowledged, error
    assert len(received) == 1
    body = received[0]["body"]
    assert body["type"] == "tailor.drift.alert" and body["alert"] is True
    assert body["causes"][0]["cause"] == "pipeline"
    assert [c["name"] for c in body["checks"] if c["status"] == "alert"] == ["events: Order Completed"]
    assert received[0]["key"].startswith("drift-")
    assert post_alert(report, url, SECRET)[0]
    assert received[1]["key"] == received[0]["key"]  # the same report, the same key: a receiver can drop it


def test_an_alert_signed_with_another_secret_is_refused_by_the_receiver(serve) -> None:
    app, received = receiver()
    url = serve(app) + "/hooks/drift"
    acknowledged, error = post_alert(alerting_report(), url, "not-the-secret", retries=0)
    assert not acknowledged and error == "HTTP 401"
    assert received == []


def test_gauges_are_written_in_the_prometheus_text_format(tmp_path: Path) -> None:
    path = tmp_path / "drift.prom"
    write_gauges(alerting_report(), path)
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    assert families["tailor_drift_alerts"].samples[0].value == 1
    (alert,) = families["tailor_drift_alert"].samples
    assert alert.labels == {"kind": "volume", "check": "events: Order Completed", "cause": "pipeline"}
    assert alert.value == 1
    (effect,) = families["tailor_drift_effect"].samples
    assert effect.value == pytest.approx(-0.9)  # 10 a day, then 1 a day


def test_the_cli_sends_the_alert_to_the_webhook_of_the_rules(serve, tmp_path: Path) -> None:
    app, received = receiver()
    url = serve(app) + "/hooks/drift"
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "monitor.yaml").write_text(f"monitor:\n  drift:\n    webhook: {url}\n")
    database = f"sqlite:///{tmp_path / 'shop.db'}"
    store = Store(database)
    store.migrate()
    store.ingest(simulate(shift="orders-lost", profiles=150))
    store.close()
    command = ["monitor", "drift", "--database-url", database, "--rules", str(rules), "--no-segments", "--alert"]
    done = subprocess.run(
        [sys.executable, "-c", "from tailor.cli import main; main()", *command, "--at", AT.isoformat() + "Z"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "TAILOR_SECRET": SECRET, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 0, done.stderr
    assert f"alert sent to {url}" in done.stderr
    assert len(received) == 1
    assert received[0]["body"]["causes"][0]["cause"] == "pipeline"
