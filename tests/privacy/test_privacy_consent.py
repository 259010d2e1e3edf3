"""Consents per purpose with history; no tracking consent → behavioural events dropped and counted."""

from __future__ import annotations

import pytest
from privacy_helpers import identify, track
from sqlalchemy import text

from tailor.privacy import UnknownPurpose, counters, set_consents
from tailor.store import IngestResult, Store
from tailor.store.privacy import DROPPED_NO_CONSENT


def _events(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(text("SELECT message_id FROM events")).scalars())


def test_no_tracking_consent_drops_behavioural_events(store: Store) -> None:
    store.ingest([identify("i1", user="u-1", email="ann@example.com", consent_tracking=False)])
    result = store.ingest(
        [
            track("t1"),
            track("p1", "Home", kind="page"),
            track("s1", "Cart", kind="screen"),
            identify("i2", user="u-1", city="Lyon"),
        ]
    )
    assert result == IngestResult(accepted=1, duplicates=0, dropped_no_consent=3)
    assert _events(store) == ["i1", "i2"]  # identify messages are not behaviour: kept
    assert store.load_profile(id="u-1")["traits"] == {"city": "Lyon"}
    assert sum(counters(store, DROPPED_NO_CONSENT)[DROPPED_NO_CONSENT].values()) == 3
    # a retry is dropped again: never stored, counted again (it arrived again)
    assert store.ingest([track("t1")]).dropped_no_consent == 1
    assert _events(store) == ["i1", "i2"]


def test_consent_in_the_same_batch_decides_and_others_are_unaffected(store: Store) -> None:
    result = store.ingest(
        [
            track("t0", user="u-1", ts="2026-11-19T10:00:00Z"),
            identify("i1", user="u-1", consents={"tracking": False}),
            track("other", user="u-2"),
        ]
    )
    assert result.dropped_no_consent == 1 and result.accepted == 2
    assert _events(store) == ["i1", "other"]
    # consent granted again: events are stored from now on
    store.ingest([identify("i2", user="u-1", ts="2026-11-21T10:00:00Z", consent_tracking=True)])
    assert store.ingest([track("t2", user="u-1")]) == IngestResult(accepted=1)
    assert "t2" in _events(store)


def test_absent_tracking_consent_means_granted(store: Store) -> None:
    assert store.ingest([track("t1", user="u-9")]).dropped_no_consent == 0
    assert _events(store) == ["t1"]


def test_files_drop_events_of_profiles_without_tracking_consent(store: Store, tmp_path) -> None:
    profiles = tmp_path / "profiles.csv"
    profiles.write_text(
        "user_id,email,first_name,consent_tracking,created_at\n"
        "u-1,ann@example.com,Ann,false,2026-01-01T00:00:00Z\n"
        "u-2,bob@example.com,Bob,true,2026-01-01T00:00:00Z\n",
        encoding="utf-8",
    )
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            __import__("json").dumps(m)
            for m in [track("a", user="u-1"), track("b", user="u-2"), track("c", user="u-1", kind="page")]
        ),
        encoding="utf-8",
    )
    store.ingest_file(profiles)
    result = store.ingest_file(events)
    assert (result.accepted, result.dropped_no_consent) == (1, 2)
    assert _events(store) == ["b"]
    again = store.ingest_file(events)
    assert (again.accepted, again.duplicates, again.dropped_no_consent) == (0, 1, 2)


def test_consent_history_records_every_statement_once(store: Store, tmp_path) -> None:
    store.ingest(
        [
            identify("i1", user="u-1", ts="2026-11-01T00:00:00Z", consents={"personalization": True, "tracking": True}),
            identify("i2", user="u-1", ts="2026-11-02T00:00:00Z", consent_email_marketing=False),
        ]
    )
    store.ingest(
        [identify("i1", user="u-1", ts="2026-11-01T00:00:00Z", consents={"personalization": True, "tracking": True})]
    )
    history = store.export_profile("u-1")["consent_history"]
    assert [(h["purpose"], h["granted"], h["source"], h["subject"], h["given_at"]) for h in history] == [
        ("personalization", True, "identify", "u-1", "2026-11-01T00:00:00Z"),
        ("tracking", True, "identify", "u-1", "2026-11-01T00:00:00Z"),
        ("email_marketing", False, "identify", "u-1", "2026-11-02T00:00:00Z"),
    ]
    profiles = tmp_path / "p.csv"
    profiles.write_text(
        "user_id,consent_personalization,updated_at\nu-1,false,2026-11-03T00:00:00Z\n", encoding="utf-8"
    )
    store.ingest_file(profiles)
    store.ingest_file(profiles)
    history = store.export_profile("u-1")["consent_history"]
    assert [(h["purpose"], h["granted"], h["source"]) for h in history][-1] == (
        "personalization",
        False,
        "profiles.csv",
    )
    assert len(history) == 4


def test_history_follows_a_merge(store: Store) -> None:
    store.ingest([identify("a", anon="x-1", consents={"tracking": True})])
    store.ingest(
        [identify("b", user="u-1", anon="x-1", ts="2026-11-21T00:00:00Z", consents={"personalization": False})]
    )
    history = store.export_profile("u-1")["consent_history"]
    assert {(h["purpose"], h["subject"]) for h in history} == {("tracking", "x-1"), ("personalization", "u-1")}
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT DISTINCT profile_id FROM consent_events")).scalars().all() == ["u-1"]


def test_api_choice_supersedes_every_source(store: Store) -> None:
    store.ingest(
        [
            identify("a", user="u-1", anon="x-1", consents={"tracking": False}),
            identify("b", anon="x-1", consents={"tracking": True}),
        ]
    )
    assert store.load_profile(id="u-1")["consents"]["tracking"] is False  # any no wins
    assert set_consents(store, "u-1", {"tracking": True, "email_marketing": False}, source="api:preference-centre") == {
        "tracking": True,
        "email_marketing": False,
    }
    doc = store.load_profile(id="x-1")
    assert doc["consents"] == {"tracking": True, "email_marketing": False}
    # an older statement arriving late does not undo the choice; a newer one does
    store.ingest([identify("late", user="u-1", ts="2026-01-01T00:00:00Z", consent_tracking=False)])
    assert store.load_profile(id="u-1")["consents"]["tracking"] is True
    store.ingest([identify("new", user="u-1", ts="2099-01-01T00:00:00Z", consent_tracking=False)])
    assert store.load_profile(id="u-1")["consents"]["tracking"] is False
    sources = [h["source"] for h in store.export_profile("u-1")["consent_history"]]
    assert sources.count("api:preference-centre") == 2
    # and events are dropped from then on
    assert store.ingest([track("t", user="u-1")]).dropped_no_consent == 1


def test_set_consents_validates(store: Store) -> None:
    store.ingest([identify("a", user="u-1")])
    with pytest.raises(UnknownPurpose):
        set_consents(store, "u-1", {"telemetry": True})
    with pytest.raises(TypeError):
        set_consents(store, "u-1", {"tracking": "yes"})
    assert set_consents(store, "nobody", {"tracking": True}) is None
