"""Retention windows per event type; the purge deletes in batches; --dry-run only counts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from privacy_helpers import identify, track
from sqlalchemy import text

from tailor.cli.maintenance import maintenance
from tailor.privacy import RetentionPolicy, load_policy, purge
from tailor.privacy.retention import PolicyError
from tailor.store import Store

NOW = datetime(2026, 11, 24, 12, 0, 0)


def _ts(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seed(store: Store) -> None:
    store.ingest(
        [
            identify("id-old", user="u-1", ts=_ts(900), email="a@example.com"),
            track("view-old", ts=_ts(100)),
            track("view-new", ts=_ts(10)),
            track("order-old", "Order Completed", ts=_ts(500)),
            track("order-older", "Order Completed", ts=_ts(1200)),
            track("page-old", "Home", kind="page", ts=_ts(40)),
            track("page-new", "Home", kind="page", ts=_ts(5)),
            track("screen-old", "Cart", kind="screen", ts=_ts(400)),
        ]
    )


def _left(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(text("SELECT message_id FROM events")).scalars())


POLICY = {
    "retention": {"default": "365d", "track": "90d", "page": "30d", "Order Completed": "1095d", "identify": "forever"}
}


def test_purge_applies_the_most_specific_window(store: Store) -> None:
    _seed(store)
    policy = RetentionPolicy.from_mapping(POLICY)
    dry = purge(store, policy, now=NOW, dry_run=True)
    assert dry["expired"] == {"page": 1, "screen": 1, "track:Order Completed": 1, "track:Product Viewed": 1}
    assert dry["deleted"] == 0 and len(_left(store)) == 8
    report = purge(store, policy, now=NOW, batch_size=2)
    assert report["deleted"] == 4 and report["batches"] == 2
    assert _left(store) == ["id-old", "order-old", "page-new", "view-new"]
    assert store.load_profile(id="u-1")["email"] == "a@example.com"  # profiles stay; only events age out
    assert purge(store, policy, now=NOW)["deleted"] == 0


def test_default_policy_is_thirteen_months(store: Store) -> None:
    _seed(store)
    policy = load_policy(None, environ={})
    assert policy.describe() == {"default": "395d"}
    purge(store, policy, now=NOW)
    assert _left(store) == ["page-new", "page-old", "view-new", "view-old"]


def test_policy_files_and_errors(tmp_path) -> None:
    path = tmp_path / "retention.yaml"
    path.write_text("retention:\n  page: 12h\n  track: 2w\n  'track:Order Completed': forever\n", encoding="utf-8")
    policy = load_policy(path)
    assert policy.describe() == {"default": "395d", "page": "12h", "track": "2w", "track:Order Completed": "forever"}
    assert load_policy(None, environ={"TAILOR_RETENTION": str(path)}).describe() == policy.describe()
    for bad in (
        "retention:\n  page: soon\n",
        "retention: [1]\n",
        "retention:\n  page: -3\n",
        "retention:\n  page: true\n",
    ):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(PolicyError):
            load_policy(path)
    with pytest.raises(PolicyError):
        load_policy(tmp_path / "absent.yaml")


def test_cli_purge(sqlite_store: Store, tmp_path) -> None:
    _seed(sqlite_store)
    policy = tmp_path / "retention.yaml"
    policy.write_text(json.dumps(POLICY), encoding="utf-8")  # JSON is YAML too
    runner = CliRunner()
    args = [
        "purge",
        "--policy",
        str(policy),
        "--at",
        "2026-11-24T12:00:00Z",
        "--database-url",
        sqlite_store.database_url,
    ]
    dry = runner.invoke(maintenance, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["expired"]["page"] == 1 and len(_left(sqlite_store)) == 8
    done = runner.invoke(maintenance, [*args, "--batch-size", "3"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["deleted"] == 4 and len(_left(sqlite_store)) == 4
    policy.write_text("retention:\n  page: whenever\n", encoding="utf-8")
    bad = runner.invoke(maintenance, args)
    assert bad.exit_code == 1 and "whenever" in bad.output and "Traceback" not in bad.output


def test_purge_in_batches_does_not_block_other_writers(sqlite_store: Store) -> None:
    import threading

    sqlite_store.ingest([track(f"e{i:05d}", ts=_ts(200)) for i in range(1200)])
    policy = RetentionPolicy.from_mapping({"track": "30d"})
    errors: list[Exception] = []

    def writer() -> None:
        try:
            for i in range(20):
                sqlite_store.ingest([track(f"live-{i}", user="u-2", ts=_ts(0))])
        except Exception as exc:  # collected: the test asserts there were none
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    report = purge(sqlite_store, policy, now=NOW, batch_size=100, pause=0.001)
    thread.join()
    assert errors == [] and report["deleted"] == 1200 and report["batches"] == 12
    assert len(_left(sqlite_store)) == 20
