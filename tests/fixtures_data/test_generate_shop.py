"""scripts/generate_shop.py: the same seed gives byte-identical files, in every format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]


def generate(out: Path, *args: str) -> Path:
    command = [sys.executable, str(ROOT / "scripts" / "generate_shop.py"), "--out", str(out), *args]
    subprocess.run(command, check=True, capture_output=True)
    return out


def test_a_seed_gives_byte_identical_files_and_another_seed_other_ones(tmp_path: Path) -> None:
    size = ["--profiles", "50", "--events", "2000"]
    first, second = generate(tmp_path / "a", *size), generate(tmp_path / "b", *size)
    other = generate(tmp_path / "c", *size, "--seed", "2")
    for name in ("events.jsonl", "profiles.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert (first / "events.jsonl").read_bytes() != (other / "events.jsonl").read_bytes()
    messages = [json.loads(line) for line in (first / "events.jsonl").read_text().splitlines()]
    assert len(messages) == 2000 and len({m["messageId"] for m in messages}) == 2000
    identifies = [m for m in messages if m["type"] == "identify"]
    assert len(identifies) == 50  # one per profile
    assert any("anonymousId" in m for m in identifies)  # visitors who sign up: identity merges


def test_csv_and_parquet_hold_the_same_messages(tmp_path: Path) -> None:
    size = ["--profiles", "20", "--events", "500", "--no-profiles-csv"]
    jsonl = generate(tmp_path / "j", *size) / "events.jsonl"
    parquet = generate(tmp_path / "p", *size, "--format", "parquet") / "events.parquet"
    csv_file = generate(tmp_path / "c", *size, "--format", "csv") / "events.csv"
    ids = [json.loads(line)["messageId"] for line in jsonl.read_text().splitlines()]
    assert pq.read_table(parquet).column("messageId").to_pylist() == ids
    assert [line.split(",")[1] for line in csv_file.read_text().splitlines()[1:]] == ids
