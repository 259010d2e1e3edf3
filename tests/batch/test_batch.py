"""`tailor batch`: a campaign rendered on a local Dask cluster, one file per recipient plus a manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tailor.cli import main

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"


@pytest.mark.slow
def test_batch_renders_an_audience_in_parallel(tmp_path, monkeypatch):
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    audience = tmp_path / "audience.jsonl"
    docs = [json.loads(p.read_text()) for p in sorted((ROOT / "fixtures" / "personas").glob("*.json"))]
    no_email = {"id": "no-email", "traits": {"first_name": "Nemo"}}
    audience.write_text("\n".join(json.dumps(d) for d in [*docs, no_email]) + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "batch",
            "newsletter",
            "--audience",
            str(audience),
            "--out",
            str(out),
            "--at",
            AT,
            "--templates",
            str(ROOT / "templates"),
            "--rules",
            str(ROOT / "rules"),
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"{len(docs)} rendered, 1 skipped by abort rules, 0 failed" in result.output
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == len(docs) + 1
    rendered = {m["recipient"]: m for m in manifest if m["status"] == "rendered"}
    assert rendered["persona-cart-abandoner"]["blocks"]["hero"] == "hero/cart-reminder"
    assert "COMEBACK10" in (out / "persona-cart-abandoner.html").read_text()
    assert (out / "persona-cart-abandoner.txt").read_text().strip()
    aborted = next(m for m in manifest if m["status"] == "aborted")
    assert aborted["recipient"] == "no-email" and "email" in aborted["reason"]


def test_batch_bad_input(tmp_path):
    bad = tmp_path / "a.jsonl"
    bad.write_text('{"id": "x"}\n{oops\n')
    result = CliRunner().invoke(
        main,
        [
            "batch",
            "newsletter",
            "--audience",
            str(bad),
            "--out",
            str(tmp_path / "o"),
            "--templates",
            str(ROOT / "templates"),
            "--rules",
            str(ROOT / "rules"),
        ],
    )
    assert result.exit_code == 1 and f"{bad}:2:2: malformed JSON" in result.output
    result = CliRunner().invoke(main, ["batch", "nope", "--audience", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    result = CliRunner().invoke(main, ["batch", "newsletter", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "exactly one of" in result.output
