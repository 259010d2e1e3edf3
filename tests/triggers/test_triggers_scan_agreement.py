"""The batch scan and the send-time evaluation agree on the example shop (fixtures/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from scan_helpers import AT, ROOT, RULES

from tailor.rules import RuleBook
from tailor.store import Store
from tailor.triggers import evaluate_triggers
from tailor.triggers.scan import history_by_profile, scan


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('agree') / 'tailor.db'}")
    store.migrate()
    for name in ("catalog.csv", "profiles.csv", "events.jsonl"):
        store.ingest_file(ROOT / "fixtures" / name)
    yield store
    store.close()


def one_by_one(store: Store, specs, at) -> dict[tuple[str, str], dict]:
    catalog = {row["id"]: row for row in store.catalog()}
    fired = history_by_profile(store.trigger_history())
    refused = store.personalization_refused()
    due = {}
    for pid in store.profile_ids():
        if pid in refused:
            continue
        document = store.load_profile(id=pid, event_limit=None)
        for name, state in evaluate_triggers(
            specs, document["events"], at, catalog=catalog, fired=fired.get(pid, ())
        ).items():
            if state.active:
                due[(pid, name)] = {
                    "key": state.key,
                    "items": state.items,
                    "since": state.since.isoformat().replace("+00:00", "Z"),
                }
    return due


@pytest.mark.parametrize("at", [AT, AT - timedelta(days=3, hours=7), AT + timedelta(days=2)])
def test_scan_finds_exactly_who_send_time_evaluation_finds(store: Store, at) -> None:
    specs = RuleBook.load(RULES).triggers
    batch = {
        (d["profile_id"], d["trigger"]): {"key": d["key"], "items": d["items"], "since": d["since"]}
        for d in scan(store, specs, at)
    }
    single = one_by_one(store, specs, at)
    assert batch == single
    if at == AT:
        assert {t for _, t in batch} == {"cart_abandonment", "browse_abandonment"}


def test_they_still_agree_once_some_episodes_have_fired(store: Store) -> None:
    specs = RuleBook.load(RULES).triggers
    before = scan(store, specs, AT)
    for item in before[::3]:
        assert store.record_trigger(item["profile_id"], item["trigger"], item["key"], AT - timedelta(days=1))
    after = {
        (d["profile_id"], d["trigger"]): {"key": d["key"], "items": d["items"], "since": d["since"]}
        for d in scan(store, specs, AT)
    }
    assert after == one_by_one(store, specs, AT)
    assert len(after) <= len(before) - len(before[::3])
