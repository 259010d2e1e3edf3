"""The profile endpoints through a real server, and `tailor profiles export/erase`."""

from __future__ import annotations

import json
import time

import requests
from click.testing import CliRunner
from privacy_helpers import LiveServer, app_with_profiles, identify, rows_mentioning, track

from tailor.cli.profiles import profiles
from tailor.client import sign
from tailor.config import Settings
from tailor.store import Store

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _seed(store: Store) -> None:
    store.ingest(
        [
            identify(
                "i1",
                user="u-1",
                email="dana.w@example.com",
                first_name="Dana",
                consents={"personalization": True, "tracking": True, "email_marketing": True},
            ),
            track("t1", user="u-1", product_id="sku-0001"),
        ]
    )


def _settings(store: Store, tmp_path, **values) -> Settings:
    return Settings().with_values(
        database_url=store.database_url,
        templates=str(ROOT / "templates"),
        rules=str(ROOT / "rules"),
        artifacts=str(tmp_path / "artifacts"),
        **values,
    )


def test_profile_endpoints(sqlite_store: Store, tmp_path) -> None:
    _seed(sqlite_store)
    with LiveServer(app_with_profiles(_settings(sqlite_store, tmp_path))) as server:
        base = f"{server.url}/v1/profiles"
        doc = requests.get(f"{base}/u-1", timeout=10)
        assert doc.status_code == 200 and doc.headers["Cache-Control"] == "no-store"
        assert doc.json()["email"] == "dana.w@example.com" and set(doc.json()) == {
            "id",
            "email",
            "traits",
            "consents",
            "events",
        }
        export = requests.get(f"{base}/u-1/export", timeout=10)
        assert export.status_code == 200 and export.json()["schema_version"] == 1
        assert export.json() == {**sqlite_store.export_profile("u-1"), "exported_at": export.json()["exported_at"]}
        put = requests.put(
            f"{base}/u-1/consents", json={"consents": {"tracking": False}, "source": "preference-centre"}, timeout=10
        )
        assert put.status_code == 200 and put.json()["consents"]["tracking"] is False
        assert sqlite_store.export_profile("u-1")["consent_history"][-1]["source"] == "api:preference-centre"
        for body, pointer in (
            ({"consents": {"telemetry": True}}, "/consents/telemetry"),
            ({"consents": {"tracking": 1}}, "/consents/tracking"),
            ({}, "/consents"),
            ({"consents": {"tracking": True}, "source": 3}, "/source"),
        ):
            bad = requests.put(f"{base}/u-1/consents", json=body, timeout=10)
            assert bad.status_code == 400 and bad.headers["Content-Type"] == "application/problem+json"
            assert bad.json()["pointer"] == pointer
        assert (
            requests.put(
                f"{base}/u-1/consents", data="{", headers={"Content-Type": "application/json"}, timeout=10
            ).status_code
            == 400
        )
        gone = requests.delete(f"{base}/u-1", timeout=10)
        assert gone.status_code == 200 and gone.json()["erased"] is True
        for method, path in (("get", "/u-1"), ("get", "/u-1/export"), ("delete", "/u-1"), ("put", "/u-1/consents")):
            missing = requests.request(method, f"{base}{path}", json={"consents": {"tracking": True}}, timeout=10)
            assert missing.status_code == 404 and missing.json()["type"].endswith("/unknown-profile")
    assert rows_mentioning(sqlite_store, ["u-1", "dana.w@example.com", "Dana"]) == []


def test_profile_endpoints_need_auth_when_credentials_are_configured(sqlite_store: Store, tmp_path) -> None:
    _seed(sqlite_store)
    settings = _settings(sqlite_store, tmp_path, api_tokens="tok-1", secret="s3cret")
    with LiveServer(app_with_profiles(settings)) as server:  # loopback grants nothing once credentials exist
        base = f"{server.url}/v1/profiles"
        assert requests.get(f"{base}/u-1/export", timeout=10).status_code == 401
        assert requests.delete(f"{base}/u-1", headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
        assert requests.get(f"{base}/u-1", headers={"Authorization": "Bearer tok-1"}, timeout=10).status_code == 200
        signed = {
            "X-Tailor-Signature": sign(b"", "s3cret", int(time.time()), method="GET", path="/v1/profiles/u-1/export")
        }
        assert requests.get(f"{base}/u-1/export", headers=signed, timeout=10).status_code == 200
    assert sqlite_store.load_profile(id="u-1") is not None


def test_cli_export_and_erase(sqlite_store: Store, tmp_path, monkeypatch) -> None:
    _seed(sqlite_store)
    monkeypatch.setenv("TAILOR_ARTIFACTS", str(tmp_path / "artifacts"))
    runner = CliRunner()
    url = ["--database-url", sqlite_store.database_url]
    out = runner.invoke(profiles, ["export", "u-1", *url])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["email"] == "dana.w@example.com" and doc["schema_version"] == 1
    target = tmp_path / "export.json"
    assert runner.invoke(profiles, ["export", "u-1", "-o", str(target), *url]).exit_code == 0
    assert json.loads(target.read_text())["id"] == "u-1"
    refused = runner.invoke(profiles, ["erase", "u-1", *url], input="n\n")
    assert refused.exit_code == 1 and sqlite_store.load_profile(id="u-1") is not None
    erased = runner.invoke(profiles, ["erase", "u-1", "--yes", *url])
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.output)["erased"] is True
    assert sqlite_store.load_profile(id="u-1") is None
    for command in (["export", "u-1"], ["erase", "u-1", "--yes"]):
        missing = runner.invoke(profiles, [*command, *url])
        assert missing.exit_code == 1 and "no profile" in missing.output and "Traceback" not in missing.output
