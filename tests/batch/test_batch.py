"""`tailor batch`: a campaign rendered on Dask into one shard per partition, resumable, streamed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tailor.batch import iter_rendered
from tailor.batch.campaign import DONE_DIR, RECORD_FIELDS
from tailor.cli import main

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"
FOLDERS = ["--templates", str(ROOT / "templates"), "--rules", str(ROOT / "rules")]


def personas() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((ROOT / "fixtures" / "personas").glob("*.json"))]


def done_markers(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / DONE_DIR).glob("part-*.json"))]


@pytest.mark.slow
def test_batch_renders_an_audience_into_parquet_shards(tmp_path, monkeypatch):
    monkeypatch.setenv("TAILOR_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    audience = tmp_path / "audience.jsonl"
    docs = personas()
    no_email = {"id": "no-email", "traits": {"first_name": "Nemo"}}
    audience.write_text("\n".join(json.dumps(d) for d in [*docs, no_email]) + "\n")
    out = tmp_path / "out"
    args = ["batch", "newsletter", "--audience", str(audience), "--out", str(out), "--at", AT, *FOLDERS]
    result = CliRunner().invoke(main, [*args, "--workers", "2", "--partition-size", "4"])
    assert result.exit_code == 0, result.output
    assert f"{len(docs)} rendered, 1 skipped by abort rules, 0 failed" in result.output
    # 10 recipients in partitions of 4: three shards, each with its done marker
    assert sorted(p.name for p in out.glob("part-*")) == [f"part-00000{i}.parquet" for i in range(3)]
    markers = done_markers(out)
    assert [m["recipients"] for m in markers] == [4, 4, 2]
    skipped = [s for m in markers for s in m["skipped"]]
    assert skipped[0]["recipient"] == "no-email" and "email" in skipped[0]["reason"]
    emails = list(iter_rendered(str(out)))
    assert len(emails) == len(docs) and set(RECORD_FIELDS) | {"headers"} == set(emails[0])
    by_id = {e["profile_id"]: e for e in emails}
    cart = by_id["persona-cart-abandoner"]
    assert cart["blocks"]["hero"] == "hero/cart-reminder" and "COMEBACK10" in cart["html"]
    assert cart["recipient"] == next(d["email"] for d in docs if d["id"] == "persona-cart-abandoner")
    assert cart["text"].strip() and cart["subject"] and cart["send_id"].endswith("-persona-cart-abandoner")
    assert len({e["send_id"] for e in emails}) == len(docs)
    # the same command again: every partition is already done, nothing is rendered twice
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    again = CliRunner().invoke(main, [*args, "--workers", "1", "--partition-size", "4"])
    assert again.exit_code == 0, again.output
    assert "3 already done by an earlier run" in again.output
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")} == before
    # another campaign into the same output is refused, not mixed in
    other = CliRunner().invoke(main, [*args[:1], "welcome", *args[2:], "--partition-size", "4"])
    assert other.exit_code == 1 and "holds another campaign (different template)" in other.output


def test_batch_bad_input(tmp_path):
    bad = tmp_path / "a.jsonl"
    bad.write_text('{"id": "x"}\n{oops\n[1]\n')
    out = ["--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, ["batch", "newsletter", "--audience", str(bad), *out, *FOLDERS])
    assert result.exit_code == 1
    assert (
        f"{bad}:2:2: malformed JSON" in result.output and f"{bad}:3:1: each line must be a JSON object" in result.output
    )
    assert not (tmp_path / "o").exists()  # nothing started
    result = CliRunner().invoke(main, ["batch", "nope", "--audience", str(bad), *out])
    assert result.exit_code == 1
    result = CliRunner().invoke(main, ["batch", "newsletter", *out])
    assert result.exit_code == 1 and "exactly one of" in result.output
    absent = {"TAILOR_DATABASE_URL": f"sqlite:///{tmp_path / 'absent.db'}"}
    result = CliRunner(env=absent).invoke(main, ["batch", "newsletter", "--segment", "vip", *out, *FOLDERS])
    assert result.exit_code == 1 and "--segment needs a store" in result.output
    csv_audience = tmp_path / "a.csv"
    csv_audience.write_text("name\nx\n")
    result = CliRunner().invoke(main, ["batch", "newsletter", "--audience", str(csv_audience), *out, *FOLDERS])
    assert result.exit_code == 1 and f"{csv_audience}:1:1: an audience CSV needs an id" in result.output
