"""`tailor batch` under failure and at scale: kill -9 then re-run, separate scheduler and worker processes,
fsspec URLs, segment campaigns, and memory that does not grow with the audience."""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from tailor.batch import iter_rendered, run_campaign
from tailor.batch.campaign import DONE_DIR, local_cluster
from tailor.cli import main
from tailor.config import Settings

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"
HELLO = """\
---
subject: "Hello {{ profile.first_name or 'there' }}"
recs: false
---
<mjml><mj-body><mj-section><mj-column>
<mj-text>Hi {{ profile.first_name or 'there' }}, this is {{ profile.id }}.</mj-text>
</mj-column></mj-section></mj-body></mjml>
"""


@pytest.fixture
def tiny(tmp_path, write_templates):
    """A one-template shop without rules or store: a render costs well under a millisecond."""
    templates = write_templates({"hello.mjml": HELLO})
    rules = tmp_path / "rules"
    rules.mkdir()
    database_url = f"sqlite:///{tmp_path / 'absent.db'}"
    return Settings().with_values(templates=str(templates), rules=str(rules), database_url=database_url)


def audience_file(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"r{i:06d}", "email": f"r{i}@example.com"}) + "\n")
    return path


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "TAILOR_TEMPLATES": str(settings.templates),
        "TAILOR_RULES": str(settings.rules),
        "TAILOR_DATABASE_URL": str(settings.database_url),
    }


def recipients_in(out_url: str) -> collections.Counter[str]:
    return collections.Counter(str(e["profile_id"]) for e in iter_rendered(out_url))


@pytest.mark.slow
def test_a_run_killed_mid_campaign_and_rerun_renders_each_recipient_exactly_once(tmp_path, tiny):
    n, size = 20_000, 100
    audience = audience_file(tmp_path / "audience.jsonl", n)
    out = tmp_path / "out"
    command = [
        str(Path(sys.executable).with_name("tailor")),
        "batch",
        "hello",
        "--audience",
        str(audience),
        "--out",
        str(out),
    ]
    command += ["--at", AT, "--partition-size", str(size), "--workers", "1"]
    first = subprocess.Popen(
        command, env=cli_env(tiny), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 240
    try:
        while len(list((out / DONE_DIR).glob("part-*.json"))) < 5:
            assert first.poll() is None, "the first run ended before it could be killed"
            assert time.monotonic() < deadline, "no partition finished within four minutes"
            time.sleep(0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the client, its local cluster and its workers, mid-partition
        first.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in (out / DONE_DIR).glob("part-*.json")}
    assert 5 <= len(finished) < n // size
    partial = recipients_in(str(out))
    assert sum(partial.values()) == len(finished) * size and max(partial.values()) == 1

    second = subprocess.run(command, env=cli_env(tiny), capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"{n} rendered, 0 skipped by abort rules, 0 failed" in second.stdout
    assert f"{len(finished)} already done by an earlier run" in second.stdout
    counts = recipients_in(str(out))
    assert len(counts) == n and set(counts.values()) == {1}
    # the first run's partitions were not rendered again, and no temporary file is left behind
    assert {p.name: p.stat().st_mtime_ns for p in (out / DONE_DIR).glob("part-*.json") if p.name in finished} == (
        finished
    )
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_campaign_on_a_scheduler_and_a_worker_started_as_separate_processes(tmp_path, tiny):
    dask = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = cli_env(tiny)
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [dask, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from dask.distributed import Client

        with Client(address, timeout=120) as client:
            client.wait_for_workers(1, timeout=120)
        audience = audience_file(tmp_path / "audience.jsonl", 1_000)
        out = tmp_path / "out"
        args = ["batch", "hello", "--audience", str(audience), "--out", f"file://{out}", "--format", "jsonl"]
        result = CliRunner(env={k: env[k] for k in env if k.startswith("TAILOR_")}).invoke(
            main, [*args, "--scheduler", address, "--partition-size", "300", "--at", AT]
        )
        assert result.exit_code == 0, result.output
        assert "1000 rendered, 0 skipped by abort rules, 0 failed" in result.output
        assert sorted(p.name for p in out.glob("part-*")) == [f"part-00000{i}.jsonl" for i in range(4)]
        emails = list(iter_rendered(f"file://{out}"))
        assert len({e["send_id"] for e in emails}) == 1_000
        assert emails[0]["subject"] == "Hello there" and "this is r000000" in emails[0]["html"]
        assert emails[0]["recipient"] == "r0@example.com" and emails[0]["fallbacks"] == ["unknown-recipient"]
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=60)


@pytest.mark.slow
def test_memory_stays_flat_on_the_client_and_the_workers_as_the_audience_grows(tmp_path, tiny):
    from dask.distributed import Client

    def worker_rss() -> int:
        import psutil

        return int(psutil.Process().memory_info().rss)

    peaks, rss = {}, {}
    with local_cluster(1) as cluster, Client(cluster) as client:
        for n in (2_000, 2_000, 30_000):  # the first run warms the worker up
            audience = audience_file(tmp_path / f"audience-{n}.jsonl", n)
            tracemalloc.start()
            summary = run_campaign(
                tiny,
                "hello",
                _lines(audience),
                str(tmp_path / f"out-{n}-{len(peaks)}"),
                audience=str(audience),
                client=client,
                partition_size=200,
                at=AT,
            )
            peaks[n] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rss[n] = max(client.run(worker_rss).values())
            assert summary.rendered == n
    # 15× the audience: a client that held it (30,000 recipient dicts ≈ 10 MB) or its results would show it
    assert peaks[30_000] < peaks[2_000] + 4_000_000, peaks
    assert rss[30_000] < rss[2_000] + 60_000_000, rss


def _lines(path: Path):
    from tailor.batch import iter_audience

    yield from iter_audience(path)


def test_shards_to_an_fsspec_memory_url_and_a_segment_campaign(tmp_path, database_url):
    """In-process workers share the ``memory://`` filesystem; the store's profiles load in bulk per partition
    (SQLite and PostgreSQL)."""
    from dask.distributed import Client

    from tailor.core import Tailor

    tailor = Tailor(ROOT / "templates", ROOT / "rules", database_url, create_store=True)
    identify = {"type": "identify", "timestamp": "2026-11-01T10:00:00Z"}
    people = [
        {"userId": f"u-{i}", "traits": {"email": f"u{i}@example.com", "lifetime_value": 900 if i % 2 else 10}}
        for i in range(6)
    ]
    consent = {"consent_email_marketing": True, "consent_personalization": True}
    tailor.store.ingest(
        [{**identify, **p, "messageId": f"m-{i}", "traits": {**p["traits"], **consent}} for i, p in enumerate(people)]
    )
    tailor.store.add_suppression(profile_id="u-3", reason="unsubscribe")
    settings = Settings().with_values(
        templates=str(ROOT / "templates"), rules=str(ROOT / "rules"), database_url=database_url
    )
    out_url = f"memory://campaign-{tmp_path.name}"
    with local_cluster(1, processes=False) as cluster, Client(cluster) as client:
        summary = run_campaign(
            settings,
            "newsletter",
            ({"id": i} for i in tailor.store.iter_profile_ids(page_size=4)),
            out_url,
            audience="segment:vip",
            segment="vip",
            client=client,
            partition_size=4,
            fmt="jsonl",
            at=AT,
        )
    # u-1, u-3 and u-5 are VIPs; u-3 unsubscribed
    assert (summary.rendered, summary.aborted, summary.outside_segment, summary.partitions) == (2, 1, 3, 2)
    emails = {e["profile_id"]: e for e in iter_rendered(out_url)}
    assert sorted(emails) == ["u-1", "u-5"] and emails["u-1"]["recipient"] == "u1@example.com"
