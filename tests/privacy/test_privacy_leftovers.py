"""Erasure leaves nothing behind: not in SQLite's free pages or WAL, and not for people an ESP
reported on (known by their email address only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from privacy_helpers import identify, track

from tailor.privacy import erase_profile, export_profile
from tailor.store import Store

NAME = "Wilhelmina-Quetzalcoatl"
EMAIL = "wilhelmina.q@example.org"
STREET = "77 Calle del Olvido"


def _file_bytes(db: Path) -> bytes:
    """The raw bytes of the database and its WAL (what a disk image or a backup would hold)."""
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def _load(store: Store) -> None:
    messages = [
        identify("w-id", user="u-w", email=EMAIL, first_name=NAME, address={"street": STREET}),
        identify("o-id", user="u-other", email="other.person@example.org", first_name="Otto"),
    ]
    # enough events that the person's rows spread over several pages
    messages += [
        track(f"w-{i}", "Product Viewed", user="u-w", product_id=f"sku-{i}", note=f"{NAME} viewed {i}")
        for i in range(300)
    ]
    store.ingest(messages)


def test_an_erased_person_is_not_in_the_sqlite_files(tmp_path: Path) -> None:
    db = tmp_path / "erase.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    try:
        _load(store)
        before = _file_bytes(db)
        # the scan sees the data while it is stored (else the check below proves nothing)
        assert NAME.encode() in before and EMAIL.encode() in before and STREET.encode() in before

        receipt = erase_profile(store, "u-w")
        assert receipt is not None and receipt["rows_deleted"]["events"] == 301  # the identify too

        after = _file_bytes(db)
        for needle in (NAME, EMAIL, STREET, "u-w"):
            assert needle.encode() not in after, f"{needle!r} is still in the database files"
        assert b"other.person@example.org" in after  # the others are untouched
        wal = db.with_name(db.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        assert store.export_profile("u-other")["traits"]["first_name"] == "Otto"
    finally:
        store.close()


def _esp_event(message_id: str, email: str, event: str = "Email Bounced") -> dict:
    return {
        "type": "track",
        "event": event,
        "messageId": message_id,
        "timestamp": "2026-11-20T10:00:00Z",
        "properties": {"campaign": "black-friday"},
        "context": {"traits": {"email": email}},
    }


ESP_ONLY = "Esp.Only@Example.net"


def test_a_person_known_only_from_esp_events_is_exported_and_erased_by_email(store: Store) -> None:
    store.ingest_email_events(
        [_esp_event("esp-1", ESP_ONLY, "Email Opened"), _esp_event("esp-2", ESP_ONLY)],
        {"esp-2": ("hard_bounce", "esp:sendgrid")},
    )
    assert store.resolve_person("nobody@example.net") is None

    export = export_profile(store, "esp.only@example.net")  # any spelling of the address
    assert export is not None and export["email"] == "esp.only@example.net"
    assert sorted(e["messageId"] for e in export["events"]) == ["esp-1", "esp-2"]
    assert [s["reason"] for s in export["suppressions"]] == ["hard_bounce"]

    receipt = erase_profile(store, ESP_ONLY)
    assert receipt is not None and receipt["rows_deleted"]["events"] == 2 and receipt["rows_deleted"]["profiles"] == 1
    assert store.resolve_person(ESP_ONLY) is None
    # the bounce stays (as the bare keyed hash it was): the address is still never emailed
    assert store.is_suppressed(email=ESP_ONLY) == "hard_bounce"
    # what is left is exportable too, and says it is only a hash
    rest = export_profile(store, ESP_ONLY)
    assert rest is not None and rest["id"] is None and rest["metadata"]["profile"] is False
    assert [s["reason"] for s in rest["suppressions"]] == ["hard_bounce"]
    assert ESP_ONLY.lower() not in str(rest)


def test_a_suppression_without_profile_is_exported_and_erased_by_email(store: Store) -> None:
    store.add_suppression(email="bare.address@example.com", reason="spam_report", source="esp:postmark")
    export = export_profile(store, "bare.address@example.com")
    assert export is not None and [s["reason"] for s in export["suppressions"]] == ["spam_report"]

    receipt = erase_profile(store, "bare.address@example.com")
    assert receipt == {
        "erased": True,
        "erased_at": receipt["erased_at"],
        "rows_deleted": {},
        "suppressions_kept": 1,
        "identifiers_logged": 1,
        "had_events": False,
        "first_event_received_at": None,
        "retrain_flagged": False,
    }
    assert store.is_suppressed(email="bare.address@example.com") == "spam_report"


@pytest.mark.parametrize("ref", ["never.seen@example.com", "not-an-email", "@"])
def test_unknown_addresses_are_unknown(store: Store, ref: str) -> None:
    store.add_suppression(email="someone@example.com", reason="unsubscribe")
    assert export_profile(store, ref) is None
    assert erase_profile(store, ref) is None


def test_the_http_endpoints_take_an_email(tmp_path: Path, serve) -> None:
    import requests
    from privacy_helpers import ROOT, app_with_profiles

    from tailor.config import Settings

    db = tmp_path / "web.db"
    with Store(f"sqlite:///{db}") as store:
        store.migrate()
        store.ingest_email_events([_esp_event("esp-9", ESP_ONLY)], {"esp-9": ("unsubscribe", "esp:mailgun")})
    settings = Settings(templates=ROOT / "templates", rules=ROOT / "rules", database_url=f"sqlite:///{db}")
    url = serve(app_with_profiles(settings))
    export = requests.get(f"{url}/v1/profiles/{ESP_ONLY}/export", timeout=10)
    assert export.status_code == 200 and [e["messageId"] for e in export.json()["events"]] == ["esp-9"]
    erased = requests.delete(f"{url}/v1/profiles/{ESP_ONLY}", timeout=10)
    assert erased.status_code == 200 and erased.json()["rows_deleted"]["events"] == 1
    rest = requests.get(f"{url}/v1/profiles/{ESP_ONLY}/export", timeout=10)
    assert rest.status_code == 200 and rest.json()["id"] is None
    assert requests.get(f"{url}/v1/profiles/never@example.com/export", timeout=10).status_code == 404


def test_the_cli_takes_an_email(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from tailor.cli.profiles import profiles

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with Store(url) as store:
        store.migrate()
        store.ingest_email_events([_esp_event("esp-5", ESP_ONLY)])
        store.add_suppression(email="bare@example.com", reason="unsubscribe")
    runner = CliRunner()
    exported = runner.invoke(profiles, ["export", ESP_ONLY, "--database-url", url])
    assert exported.exit_code == 0 and json.loads(exported.output)["events"][0]["messageId"] == "esp-5"
    erased = runner.invoke(profiles, ["erase", ESP_ONLY, "--yes", "--database-url", url])
    assert erased.exit_code == 0 and json.loads(erased.output)["rows_deleted"]["events"] == 1
    bare = runner.invoke(profiles, ["erase", "bare@example.com", "--yes", "--database-url", url])
    assert bare.exit_code == 0 and json.loads(bare.output)["suppressions_kept"] == 1
    unknown = runner.invoke(profiles, ["erase", "nobody@example.com", "--yes", "--database-url", url])
    assert unknown.exit_code == 1 and "no profile" in unknown.output
