"""Send records journaled off the request path: nothing lost on kill -9, SIGTERM or a store outage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import text

from segment_messages import identify
from tailor.monitor.send_journal import SendWriter
from tailor.monitor.sends import send_row
from tailor.store import Store

#: a worker appending renders as fast as it can, printing each acknowledged send key
WORKER = textwrap.dedent("""
    import signal, sys
    from tailor.experiments.exposures import exposure_rows
    from tailor.monitor.send_journal import SendWriter
    from tailor.monitor.sends import send_row
    from tailor.store import Store

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    writer = SendWriter(Store(sys.argv[1]), sys.argv[2], flush_ms=int(sys.argv[3])).start()
    for i in range(int(sys.argv[4])):
        key, profile = f"send-{i}", f"p{i % 7}"
        row = send_row(profile_id=profile, send_key=key, template="newsletter", blocks={"hero": "a"},
                       rules={"hero": "r1"}, segments=["vip"], recs={}, control=False)
        writer.append([row], exposure_rows({"subject": {"variant": "b"}}, profile, "newsletter", key))
        print(key, flush=True)
    print("done", flush=True)
    signal.pause()
""")


def _row(i: int) -> dict:
    return send_row(
        profile_id=f"p{i % 7}",
        send_key=f"send-{i}",
        template="newsletter",
        blocks={"hero": "a"},
        rules={"hero": "r1"},
        segments=["vip"],
        recs={},
        control=False,
    )


def _exposure(i: int) -> dict:
    from tailor.experiments.exposures import exposure_rows

    return exposure_rows({"subject": {"variant": "b"}}, f"p{i % 7}", "newsletter", f"send-{i}")[0]


def _stored(store: Store) -> tuple[list[str], list[str]]:
    with store.engine.connect() as conn:
        sends = [r[0] for r in conn.execute(text("SELECT send_key FROM sends ORDER BY send_key"))]
        exposures = [r[0] for r in conn.execute(text("SELECT send_key FROM exposures ORDER BY send_key"))]
    return sends, exposures


def _worker(tmp_path: Path, database_url: str, journal: Path, *, flush_ms: int, count: int) -> subprocess.Popen:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    return subprocess.Popen(
        [sys.executable, str(script), database_url, str(journal), str(flush_ms), str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_rows_reach_the_store_once_in_one_flush(store: Store, tmp_path: Path) -> None:
    writer = SendWriter(store, tmp_path / "journal", flush_ms=60_000)
    for i in range(5):
        writer.append([_row(i)], [_exposure(i)])
    writer.append([_row(0)], [_exposure(0)])  # the same send rendered again (HTML, then text)
    assert _stored(store) == ([], [])  # nothing written inside the render
    assert writer.flush() == 5
    assert _stored(store) == ([f"send-{i}" for i in range(5)], [f"send-{i}" for i in range(5)])
    assert list((tmp_path / "journal").iterdir()) == []
    writer.close()


def test_a_replay_after_a_crash_between_insert_and_delete_doubles_nothing(store: Store, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    writer = SendWriter(store, journal, flush_ms=60_000)
    for i in range(3):
        writer.append([_row(i)], [_exposure(i)])
    [segment] = list(journal.glob("*.jsonl"))
    kept = segment.read_bytes()
    writer.flush()
    writer.close()
    (journal / "dead-worker-1.jsonl").write_bytes(kept)  # as if the delete never happened
    SendWriter(store, journal).start().close()
    assert _stored(store) == ([f"send-{i}" for i in range(3)], [f"send-{i}" for i in range(3)])
    assert list(journal.iterdir()) == []


def test_kill_9_mid_stream_loses_no_acknowledged_send(database_url: str, tmp_path: Path) -> None:
    store = Store(database_url)
    store.migrate()
    journal = tmp_path / "journal"
    proc = _worker(tmp_path, database_url, journal, flush_ms=5, count=100_000)
    assert proc.stdout is not None
    acknowledged = [proc.stdout.readline().strip() for _ in range(400)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acknowledged += [line.strip() for line in proc.stdout if line.strip().startswith("send-")]
    assert any(journal.glob("*.jsonl"))  # the killed worker left rows behind

    SendWriter(store, journal).start().close()  # the next worker's boot
    sends, exposures = _stored(store)
    assert set(acknowledged) <= set(sends)
    assert len(sends) == len(set(sends))
    assert exposures == sends  # each send's exposure with it, once
    assert list(journal.glob("*.jsonl")) == []
    store.close()


def test_sigterm_drains_the_journal_into_the_store(database_url: str, tmp_path: Path) -> None:
    store = Store(database_url)
    store.migrate()
    journal = tmp_path / "journal"
    proc = _worker(tmp_path, database_url, journal, flush_ms=3_600_000, count=50)  # no flush before the signal
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip() for _ in range(51)]
    assert lines[-1] == "done"
    assert _stored(store)[0] == []
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert _stored(store)[0] == sorted(lines[:-1])
    assert list(journal.iterdir()) == []
    store.close()


def test_rows_wait_in_the_journal_while_the_store_is_down(store: Store, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    down = Store("postgresql+psycopg://postgres@127.0.0.1:1/test", connect_args={"connect_timeout": 2})
    writer = SendWriter(down, journal, flush_ms=60_000)
    for i in range(4):
        writer.append([_row(i)], [_exposure(i)])
    assert writer.flush() == 0
    writer.append([_row(4)], [_exposure(4)])
    assert writer.flush() == 0
    assert writer.pending() == 2
    writer.close()  # the process stops before the store is back: the rows stay on disk
    assert len(list(journal.glob("*.jsonl"))) == 2

    SendWriter(store, journal).start().close()
    assert _stored(store) == ([f"send-{i}" for i in range(5)], [f"send-{i}" for i in range(5)])
    assert list(journal.iterdir()) == []


def test_a_living_writers_segment_is_not_taken_over(store: Store, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    alive = SendWriter(store, journal, flush_ms=60_000)
    alive.append([_row(0)], [])
    other = SendWriter(store, journal, flush_ms=60_000)
    assert other.flush() == 0  # the segment is locked by its writer
    assert alive.flush() == 1
    alive.close()
    other.close()


def test_a_send_journaled_before_an_erasure_is_not_written_after_it(store: Store, tmp_path: Path) -> None:
    store.ingest([identify("i1", user="p1", ts="2026-11-01T10:00:00Z", email="p1@example.com")])
    store.ingest([identify("i2", user="p2", ts="2026-11-01T10:00:00Z", email="p2@example.com")])
    writer = SendWriter(store, tmp_path / "journal", flush_ms=60_000)
    writer.append([_row(1)], [_exposure(1)])  # p1
    writer.append([_row(2)], [_exposure(2)])  # p2
    assert store.erase_profile("p1")
    writer.append([_row(8)], [_exposure(8)])  # p1 again: sent after the erasure (the person came back)
    assert writer.flush() == 2
    assert _stored(store) == (["send-2", "send-8"], ["send-2", "send-8"])
    writer.close()


def test_rows_the_store_refuses_are_set_aside_and_hold_nothing_up(store: Store, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    writer = SendWriter(store, journal, flush_ms=60_000)
    writer.append([{**_row(0), "template": None}], [])  # NOT NULL: a bug, not an outage
    assert writer.flush() == 0
    writer.append([_row(1)], [_exposure(1)])
    assert writer.flush() == 1
    assert _stored(store) == (["send-1"], ["send-1"])
    assert [p.suffix for p in journal.iterdir()] == [".rejected"]
    writer.close()
