"""Store level: what the webhooks write is what ``is_suppressed`` (and so the render path) reads."""

from __future__ import annotations

import pytest
from esp_helpers import mailgun_event, postmark_event, sample, sendgrid_events
from sqlalchemy import text

from tailor.esp import mailgun, postmark, sendgrid, to_segment
from tailor.store import Store, ValidationError


def _store_events(store: Store, events):
    messages = [to_segment(e) for e in events]
    suppressions = {
        m["messageId"]: (e.suppression, f"esp:{e.provider}")
        for m, e in zip(messages, events, strict=True)
        if e.suppression
    }
    return store.ingest_email_events(messages, suppressions)


def _identify(store: Store, user: str, email: str) -> None:
    store.ingest(
        [
            {
                "type": "identify",
                "userId": user,
                "messageId": f"id-{user}",
                "timestamp": "2017-01-01T00:00:00Z",
                "traits": {"email": email},
            }
        ]
    )


@pytest.mark.parametrize(
    "events, reason",
    [
        (lambda e: sendgrid.parse(sendgrid_events("unsubscribe", email=e)), "unsubscribe"),
        (lambda e: sendgrid.parse(sendgrid_events("spamreport", email=e)), "spam_report"),
        (lambda e: [x for x in sendgrid.parse(sendgrid_events("bounce", email=e)) if x.hard], "hard_bounce"),
        (lambda e: mailgun.parse(mailgun_event("failed_permanent", email=e)), "hard_bounce"),
        (lambda e: postmark.parse(postmark_event("spam_complaint", email=e)), "spam_report"),
        (lambda e: [x for x in sendgrid.parse(sendgrid_events("bounce", email=e)) if not x.hard], None),
        (lambda e: mailgun.parse(mailgun_event("failed_temporary", email=e)), None),
        (lambda e: postmark.parse(postmark_event("soft_bounce", email=e)), None),
        (lambda e: postmark.parse(postmark_event("open", email=e)), None),
    ],
)
def test_is_suppressed_by_profile_and_by_email(store: Store, events, reason) -> None:
    _identify(store, "u-1", "Ann@Example.com")
    result = _store_events(store, events("ann@example.com "))
    assert result.accepted == 1 and result.suppressions == (1 if reason else 0)
    assert store.is_suppressed("u-1") == reason
    assert store.is_suppressed(email="ANN@example.com") == reason
    assert store.is_suppressed(profile_id="u-1", email="ann@example.com") == reason
    assert store.is_suppressed("someone-else") is None


def test_suppression_survives_erasure(store: Store) -> None:
    _identify(store, "u-1", "ann@example.com")
    _store_events(store, sendgrid.parse(sendgrid_events("unsubscribe", email="ann@example.com")))
    assert store.erase_profile("u-1")
    assert store.is_suppressed(email="ann@example.com") == "unsubscribe"
    # the address comes back as a new person: still suppressed
    _identify(store, "u-2", "ann@example.com")
    assert store.is_suppressed("u-2") == "unsubscribe"


def test_one_transaction_all_or_nothing(store: Store) -> None:
    good = to_segment(sendgrid.parse(sendgrid_events("unsubscribe", email="ann@example.com"))[0])
    bad = {**to_segment(postmark.parse(sample("postmark_open"))[0]), "timestamp": "not a time"}
    with pytest.raises(ValidationError) as caught:
        store.ingest_email_events([good, bad], {good["messageId"]: ("unsubscribe", "esp:sendgrid")})
    assert caught.value.pointer == "/1/timestamp"
    no_email = {**good, "context": {}}
    with pytest.raises(ValidationError) as caught:
        store.ingest_email_events([no_email])
    assert caught.value.pointer == "/0/context/traits/email"
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM suppressions")).scalar_one() == 0


def test_email_not_kept_in_event_context_and_counts(store: Store) -> None:
    events = postmark.parse(sample("postmark_click")) + postmark.parse(sample("postmark_open"))
    result = _store_events(store, events)
    assert (result.accepted, result.duplicates, result.new_profiles) == (2, 0, 1)
    assert _store_events(store, events).duplicates == 2
    doc = store.load_profile(email="john@example.com")
    assert doc["email"] == "john@example.com"
    for event in doc["events"]:
        assert "john@example.com" not in str(event.get("context"))
