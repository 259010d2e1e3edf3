"""Export has everything a direct query finds; erasure leaves nothing; a returning person is new data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from privacy_helpers import all_tables, identify, rows_for_profile, rows_mentioning, track
from sqlalchemy import text

from tailor.privacy import erase_profile, retrain_needed, set_consents
from tailor.store import Store
from tailor.store.privacy import EXPORT_SCHEMA_VERSION

EMAIL = "ann.person@example.com"


def _person(store: Store) -> None:
    store.ingest(
        [
            track("v1", user=None, anon="a-77", ts="2026-11-20T18:00:00Z", product_id="sku-1"),
            identify(
                "i1",
                user="u-77",
                anon="a-77",
                ts="2026-11-20T18:01:00Z",
                email=" Ann.Person@Example.com",
                first_name="Annabelle",
                last_name="Quintero",
                address={"street": "12 Rue des Lilas"},
                consents={"personalization": True, "tracking": True, "email_marketing": True},
            ),
            track("m1", "Product Added", user="u-77", ts="2026-11-20T18:02:00Z", product_id="sku-1", price=49.0),
            track("p1", "Checkout", user="u-77", kind="page", ts="2026-11-20T18:03:00Z"),
            track("other", user="u-999", ts="2026-11-20T18:03:00Z"),
            identify("o2", user="u-999", email="someone.else@example.com", first_name="Zed"),
        ]
    )
    store.record_trigger("u-77", "cart_abandonment", "cart-1", datetime(2026, 11, 21, 12))
    store.add_suppression(profile_id="u-77", reason="unsubscribe", source="sendgrid")
    set_consents(store, "u-77", {"recommendations": False}, source="api")
    with store.engine.begin() as conn:
        tables = all_tables(store)
        if "exposures" in tables:
            conn.execute(
                text(
                    "INSERT INTO exposures (experiment, variant, profile_id, send_key, template, exposed_at) "
                    "VALUES ('subject-test', 'b', 'u-77', 'send-1', 'welcome', '2026-11-21 10:00:00')"
                )
            )


def test_export_has_what_direct_sql_finds(store: Store) -> None:
    _person(store)
    export = store.export_profile("a-77")  # any reference to the person
    assert export["schema_version"] == EXPORT_SCHEMA_VERSION
    assert export["id"] == "u-77" and export["email"] == EMAIL
    assert export["traits"]["last_name"] == "Quintero" and export["traits"]["address"] == {"street": "12 Rue des Lilas"}
    found = rows_for_profile(store, "u-77")
    sections = {
        "profiles": 1,
        "identities": len(export["identities"]),
        "events": len(export["events"]),
        "trigger_state": len(export["trigger_state"]),
        "suppressions": sum(1 for s in export["suppressions"] if "by" not in s),
        "consent_events": len(export["consent_history"]),
        "exposures": len(export["experiment_assignments"]),
    }
    sections.update({t: len(rows) for t, rows in export["other"].items()})
    assert {t: n for t, n in found.items()} == {t: sections[t] for t in found}
    assert found["events"] == 4 and found["identities"] == 3 and found["consent_events"] == 4
    # the rows themselves: every event message id, identity and consent statement
    with store.engine.connect() as conn:
        assert sorted(
            conn.execute(text("SELECT message_id FROM events WHERE profile_id = 'u-77'")).scalars()
        ) == sorted(e["messageId"] for e in export["events"])
        assert sorted(conn.execute(text("SELECT value FROM identities WHERE profile_id = 'u-77'")).scalars()) == sorted(
            i["value"] for i in export["identities"]
        )
        assert sorted(
            conn.execute(text("SELECT purpose FROM consent_events WHERE profile_id = 'u-77'")).scalars()
        ) == sorted(h["purpose"] for h in export["consent_history"])
    # tables without a profile_id column hold nothing about the person but a suppression's email hash
    mentions = rows_mentioning(store, ["u-77", "a-77", EMAIL, "Quintero", store.hash_email(EMAIL)], skip=tuple(found))
    assert mentions == []
    assert export["metadata"]["previously_erased"] is False
    assert json.loads(json.dumps(export)) == export  # one JSON document


def test_erasure_leaves_nothing_about_the_person(store: Store, tmp_path) -> None:
    _person(store)
    artifacts = tmp_path / "artifacts"
    # an artifact trained before the person's data arrived cannot include them; one trained after can
    for version, created in (("v-old", "2020-01-01T00:00:00+00:00"), ("v-new", datetime.now(UTC).isoformat())):
        (artifacts / version).mkdir(parents=True)
        (artifacts / version / "manifest.json").write_text(json.dumps({"created_at": created}))
    receipt = erase_profile(store, "a-77", artifacts=artifacts)
    assert receipt["erased"] is True and receipt["rows_deleted"]["events"] == 4 and receipt["retrain_flagged"] is True
    needles = ["u-77", "a-77", EMAIL, "Annabelle", "Quintero", "12 Rue des Lilas", "v1", "m1", "p1", "cart-1"]
    assert rows_mentioning(store, needles) == []
    # only the suppression keeps the bare email hash (an unsubscribed person stays unsubscribed)
    assert rows_mentioning(store, [store.hash_email(EMAIL)]) == [("suppressions", store.hash_email(EMAIL))]
    assert all(n == 0 for n in rows_for_profile(store, "u-77").values())
    with store.engine.connect() as conn:
        log = conn.execute(
            text("SELECT subject_hash, erased_at, returned_at, returned_profile_id FROM erasure_log")
        ).all()
    assert len(log) == 3 and all(len(r.subject_hash) == 64 and r.returned_at is None for r in log)
    # the other person is untouched
    assert store.load_profile(id="u-999")["email"] == "someone.else@example.com"
    marker = retrain_needed(artifacts)
    assert marker["retrain_needed"] is True and marker["last_erasure_at"] == receipt["erased_at"]
    assert marker["versions"] == ["v-new"]
    assert store.export_profile("u-77") is None and store.erase_profile("u-77") is False


def test_erasure_without_a_suppression_leaves_not_even_the_hash(store: Store) -> None:
    store.ingest([identify("i1", user="u-5", email="bo@example.com", first_name="Bo"), track("t", user="u-5")])
    assert store.erase_profile("u-5") is True
    assert rows_mentioning(store, ["u-5", "bo@example.com", "Bo", store.hash_email("bo@example.com")]) == []


def test_a_returning_person_is_new_data_and_flagged(store: Store) -> None:
    _person(store)
    erase_profile(store, "u-77")
    store.ingest([identify("back", user="u-500", ts="2026-11-23T00:00:00Z", email=EMAIL, first_name="Annabelle")])
    doc = store.load_profile(email=EMAIL)
    assert doc["id"] == "u-500" and doc["events"][0]["messageId"] == "back" and len(doc["events"]) == 1
    assert doc["traits"] == {"first_name": "Annabelle"} and "previously_erased" not in json.dumps(doc)
    export = store.export_profile("u-500")
    assert export["metadata"]["previously_erased"] is True and export["metadata"]["returned_at"]
    assert export["consent_history"] == [] and export["trigger_state"] == []
    # erased again: the link from the log to the profile goes too
    erase_profile(store, "u-500")
    with store.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT COUNT(*) FROM erasure_log WHERE returned_profile_id IS NOT NULL")).scalar_one()
            == 0
        )
    assert rows_mentioning(store, ["u-500", EMAIL, "Annabelle"]) == []


def test_erasure_is_one_transaction(store: Store, monkeypatch) -> None:
    _person(store)
    from tailor.store import privacy as store_privacy

    real = store_privacy.subject_hash

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_privacy, "subject_hash", broken)
    before = rows_for_profile(store, "u-77")
    with pytest.raises(RuntimeError):
        store.erase_profile("u-77")
    assert rows_for_profile(store, "u-77") == before  # everything rolled back
    monkeypatch.setattr(store_privacy, "subject_hash", real)
    assert store.erase_profile("u-77") is True


def test_no_retrain_flag_without_artifacts_or_events(store: Store, tmp_path) -> None:
    store.ingest([identify("i", user="u-1", email="x@example.com")])
    receipt = erase_profile(store, "u-1", artifacts=tmp_path / "none")
    assert receipt["retrain_flagged"] is False and retrain_needed(tmp_path / "none") is None


def test_a_merge_takes_experiment_rows_along(store: Store) -> None:
    if "exposures" not in all_tables(store):
        pytest.skip("no exposures table in this schema")
    store.ingest([track("a", user=None, anon="x-9")])
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO exposures (experiment, variant, profile_id, send_key, template, exposed_at) "
                "VALUES ('e', 'a', 'anon-x-9', 's', 'welcome', '2026-11-21 10:00:00')"
            )
        )
    store.ingest([identify("b", user="u-9", anon="x-9")])
    assert rows_for_profile(store, "u-9")["exposures"] == 1
    assert len(store.export_profile("u-9")["experiment_assignments"]) == 1
    store.erase_profile("u-9")
    assert rows_mentioning(store, ["x-9", "u-9"]) == []
