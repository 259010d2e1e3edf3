"""Consent and suppression gates at render time: who must not get an email, and who gets defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailor import RenderAborted, Tailor

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"


def persona(name: str) -> dict:
    return json.loads((ROOT / "fixtures" / "personas" / f"{name}.json").read_text())


@pytest.fixture
def stored(tmp_path):
    """A Tailor over the example shop with a store holding one known recipient."""
    url = f"sqlite:///{tmp_path / 'gates.db'}"
    tailor = Tailor(ROOT / "templates", ROOT / "rules", url, create_store=True)
    tailor.store.ingest(
        [
            {
                "type": "identify",
                "userId": "u-gate",
                "messageId": "gate-1",
                "timestamp": "2026-11-01T10:00:00Z",
                "traits": {"email": "gate@example.com", "first_name": "Gale"},
            }
        ]
    )
    return tailor


def test_without_email_marketing_consent_the_send_is_refused():
    doc = persona("cart-abandoner")
    doc["consents"]["email_marketing"] = False
    with pytest.raises(RenderAborted, match="email_marketing consent") as err:
        Tailor(ROOT / "templates", ROOT / "rules").render("newsletter", profile=doc, at=AT)
    assert err.value.status == 422


def test_suppressed_recipient_is_refused(stored):
    assert stored.render("welcome", recipient={"email": "gate@example.com"}, at=AT).subject
    stored.store.add_suppression(email="gate@example.com", reason="unsubscribe", source="test")
    with pytest.raises(RenderAborted, match=r"suppressed \(unsubscribe\)"):
        stored.render("welcome", recipient={"email": "gate@example.com"}, at=AT)
    with pytest.raises(RenderAborted):
        stored.render("welcome", recipient={"id": "u-gate"}, at=AT)


def test_a_serving_tailor_refuses_from_memory_and_journals_its_sends(stored, tmp_path):
    from sqlalchemy import text

    from tailor.config import Settings

    settings = Settings().with_values(send_journal=tmp_path / "journal", send_flush_ms=3_600_000)
    served = Tailor(ROOT / "templates", ROOT / "rules", stored.database_url, settings=settings)
    served.serve_sends()
    assert served.suppression_cache is not None and served.send_writer is not None
    assert served.render("welcome", recipient={"id": "u-gate"}, at=AT, send_id="s-1").subject

    def sends() -> list[str]:
        with stored.store.engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT send_key FROM sends"))]

    assert sends() == []  # journaled, not yet flushed
    stored.store.add_suppression(email="gate@example.com", reason="unsubscribe", source="test")  # another process
    with pytest.raises(RenderAborted, match=r"suppressed \(unsubscribe\)"):
        served.render("welcome", recipient={"id": "u-gate"}, at=AT, send_id="s-2")
    served.close_sends()
    assert sends() == ["s-1"]


def test_without_recommendations_consent_only_popular_products():
    from tailor.recommendations import RecommendationService
    from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file

    catalog = read_catalog_file(ROOT / "fixtures" / "catalog.csv")
    service = RecommendationService(catalog, fit_models(read_events_file(ROOT / "fixtures" / "events.jsonl"), catalog))
    tailor = Tailor(ROOT / "templates", ROOT / "rules", recommender=service)
    doc = persona("browse-abandoner")
    assert tailor.render("newsletter", profile=doc, at=AT).recommendations["provider"] not in ("popular", None)
    doc["consents"]["recommendations"] = False
    email = tailor.render("newsletter", profile=doc, at=AT)
    assert email.recommendations["provider"] in ("popular", "category_popular")
    assert email.blocks["hero"] == "hero/browse-reminder", "other personalization stays on"


def test_stored_recipient_traits_override_for_one_render(stored):
    email = stored.render("welcome", recipient={"email": "gate@example.com", "traits": {"first_name": "Zed"}}, at=AT)
    assert "Zed" in email.html
    again = stored.render("welcome", recipient={"email": "gate@example.com"}, at=AT)
    assert "Gale" in again.html and "Zed" not in again.html


def test_unknown_recipient_gets_defaults_not_an_error(stored):
    email = stored.render("welcome", recipient={"email": "nobody@example.com"}, at=AT)
    assert any(f["reason"] == "unknown-recipient" for f in email.fallbacks)
    assert email.blocks["hero"] == "hero/generic"


def test_a_send_id_longer_than_the_store_holds_is_fitted_not_a_crash(database_url):
    """The Python API takes any send id; PostgreSQL enforces the send records' 255 characters."""
    from sqlalchemy import text

    from tailor.profile import fitted_id

    tailor = Tailor(ROOT / "templates", ROOT / "rules", database_url, create_store=True)
    tailor.store.ingest(
        [
            {
                "type": "identify",
                "userId": "u-long",
                "messageId": "long-1",
                "timestamp": "2026-11-01T10:00:00Z",
                "traits": {"email": "long@example.com", "first_name": "Lou"},
            }
        ]
    )
    send_id = "weekly-" + "x" * 300
    for _ in range(2):  # the same send twice: recorded once
        assert tailor.render("welcome", recipient={"id": "u-long"}, at=AT, send_id=send_id, count_send=True).subject
    with tailor.store.engine.connect() as conn:
        keys = [r[0] for r in conn.execute(text("SELECT send_key FROM sends"))]
    tailor.store.close()
    assert keys == [fitted_id(send_id)] and len(keys[0]) <= 255


def test_a_stored_event_time_a_hand_edit_made_unreadable_is_skipped_not_refused(stored):
    """The store's own documents are not re-checked event by event on every send: their times
    come from a typed column. One a hand edit of the database made unreadable is skipped like
    any unreadable time (the recipient is not refused over data they did not send)."""
    from sqlalchemy import text

    stored.store.ingest(
        [
            {
                "type": "track",
                "userId": "u-gate",
                "event": "Product Viewed",
                "messageId": f"view-{i}",
                "timestamp": f"2026-11-2{i}T10:00:00Z",
                "properties": {"product_id": "sku-1"},
            }
            for i in range(2)
        ]
    )
    with stored.store.engine.begin() as conn:
        conn.execute(text("UPDATE events SET timestamp = '2026-13-45 99:99:99.000000' WHERE message_id = 'view-0'"))
    doc = stored.load_profile({"id": "u-gate"})
    assert [e["timestamp"] for e in doc["events"] if e["type"] == "track"] == [
        "2026-11-21T10:00:00Z",
        "2026-13-45T99:99:99Z",
    ]
    for template in ("welcome", "newsletter"):  # features, triggers and recommendations read the events
        email = stored.render(template, recipient={"id": "u-gate"}, at=AT)
        assert email.subject and email.recipient_id == "u-gate"
