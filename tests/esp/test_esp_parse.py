"""Parsing each provider's documented sample payloads into EspEvents and Segment messages."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from esp_helpers import mailgun_event, postmark_event, sample

from tailor.esp import EspEvent, MalformedPayload, mailgun, message_id_for, postmark, sendgrid, to_segment
from tailor.store.messages import validate_message


def test_sendgrid_reference_batch() -> None:
    skipped: Counter = Counter()
    events = sendgrid.parse(sample("sendgrid_events"), skipped)
    assert [e.kind for e in events] == [
        "sent",
        "deferred",
        "delivered",
        "open",
        "click",
        "bounce",
        "bounce",
        "dropped",
        "spam",
        "unsubscribe",
        "unsubscribe",
        "resubscribe",
    ]
    assert not skipped
    by_event = {(e.provider_event, e.hard): e for e in events}
    hard, blocked = by_event[("bounce", True)], by_event[("bounce", False)]
    assert hard.suppression == "hard_bounce" and hard.reason == "Invalid Address"
    assert blocked.suppression is None  # type "blocked" is temporary
    assert by_event[("dropped", True)].suppression == "hard_bounce"  # dropped: "Bounced Address"
    assert by_event[("spamreport", False)].suppression == "spam_report"
    assert by_event[("unsubscribe", False)].suppression == "unsubscribe"
    assert by_event[("group_unsubscribe", False)].suppression == "unsubscribe"
    assert by_event[("group_unsubscribe", False)].extra["asm_group_id"] == 10
    for kind in ("processed", "deferred", "delivered", "open", "click", "group_resubscribe"):
        assert by_event[(kind, False)].suppression is None
    click = by_event[("click", False)]
    assert click.url == "http://www.sendgrid.com/"
    assert click.event_id == "WdSNp2sA2tdgXdBCfQDGhw=="
    assert click.email == "example@test.com"
    assert click.occurred_at == datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)
    assert by_event[("open", False)].extra["machine_open"] is False


def test_sendgrid_event_without_id_or_recipient() -> None:
    # SendGrid's own older example: a dropped event for "not an email address", no sg_event_id
    batch = [
        {
            "email": "not an email address",
            "smtp-id": "<4FB29F5D.5080404@sendgrid.com>",
            "timestamp": 1386636115,
            "reason": "Invalid",
            "event": "dropped",
        },
        {"email": "John.Doe@SendGrid.com", "timestamp": 1386636115, "event": "dropped", "reason": "Invalid"},
        {"email": "a@b.c", "timestamp": 1386636115, "event": "new_thing_2030"},
    ]
    skipped: Counter = Counter()
    events = sendgrid.parse(batch, skipped)
    assert skipped == {"no-recipient": 1, "unknown-event": 1}
    assert len(events) == 1 and events[0].email == "john.doe@sendgrid.com"
    assert events[0].event_id.startswith("sha256:")
    assert events[0].event_id == sendgrid.parse(batch)[0].event_id  # stable across retries


@pytest.mark.parametrize(
    "payload, pointer",
    [
        ({"event": "open"}, ""),
        ([1], "/0"),
        ([{"event": "open", "email": "a@b.c", "timestamp": "soon"}], "/0/timestamp"),
    ],
)
def test_sendgrid_malformed(payload, pointer) -> None:
    with pytest.raises(MalformedPayload) as caught:
        sendgrid.parse(payload)
    assert caught.value.pointer == pointer


@pytest.mark.parametrize(
    "name, kind, hard, suppression",
    [
        ("delivered", "delivered", False, None),
        ("failed_permanent", "bounce", True, "hard_bounce"),
        ("failed_temporary", "bounce", False, None),
        ("opened", "open", False, None),
        ("clicked", "click", False, None),
        ("unsubscribed", "unsubscribe", False, "unsubscribe"),
        ("complained", "spam", False, "spam_report"),
    ],
)
def test_mailgun_samples(name, kind, hard, suppression) -> None:
    [event] = mailgun.parse(sample(f"mailgun_{name}"))
    assert (event.kind, event.hard, event.suppression) == (kind, hard, suppression)
    assert event.email == "alice@example.com"
    assert event.event_id.startswith(sample(f"mailgun_{name}")["event-data"]["id"] + "@")
    if name == "clicked":
        assert event.url == "https://mailgun.net"
    if name == "delivered":
        assert event.message_id == "20130503182626.18666.16540@sandbox.mailgun.org"
        assert event.occurred_at.year == 2018


def test_mailgun_unknown_and_malformed() -> None:
    skipped: Counter = Counter()
    assert mailgun.parse(mailgun_event("delivered", event="stored"), skipped) == []
    assert skipped == {"unknown-event": 1}
    for payload, pointer in [
        ([], ""),
        ({"signature": {}}, "/event-data"),
        (mailgun_event("delivered", event=None), "/event-data/event"),
        (mailgun_event("delivered", id=None), "/event-data/id"),
        (mailgun_event("delivered", timestamp="yesterday"), "/event-data/timestamp"),
    ]:
        with pytest.raises(MalformedPayload) as caught:
            mailgun.parse(payload)
        assert caught.value.pointer == pointer


@pytest.mark.parametrize(
    "name, kind, hard, suppression",
    [
        ("bounce", "bounce", True, "hard_bounce"),
        ("soft_bounce", "bounce", False, None),
        ("delivery", "delivered", False, None),
        ("open", "open", False, None),
        ("click", "click", False, None),
        ("spam_complaint", "spam", False, "spam_report"),
        ("subscription_change", "bounce", True, "hard_bounce"),
    ],
)
def test_postmark_samples(name, kind, hard, suppression) -> None:
    [event] = postmark.parse(sample(f"postmark_{name}"))
    assert (event.kind, event.hard, event.suppression) == (kind, hard, suppression)
    assert event.email in ("john@example.com", "bounced-address@wildbit.com")
    if name == "bounce":
        assert event.event_id == "Bounce:4323372036854775807"
        assert event.occurred_at == datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)
        assert event.message_id == "883953f4-6105-42a2-a16a-77a8eac79483"
    if name == "click":
        assert event.url == "https://example.com"


def test_postmark_variants() -> None:
    [manual] = postmark.parse(postmark_event("subscription_change", SuppressionReason="ManualSuppression"))
    assert manual.suppression == "unsubscribe"
    [reactivated] = postmark.parse(postmark_event("subscription_change", SuppressSending=False))
    assert reactivated.kind == "resubscribe" and reactivated.suppression is None
    [unsub] = postmark.parse(postmark_event("bounce", Type="Unsubscribe", TypeCode=16, Inactive=False))
    assert unsub.suppression == "unsubscribe"
    # two opens of one message are two events; a retry of one open is the same event
    first = postmark.parse(postmark_event("open"))[0]
    second = postmark.parse(postmark_event("open", ReceivedAt="2019-11-06T08:00:00Z", FirstOpen=False))[0]
    assert first.event_id != second.event_id
    assert first.event_id == postmark.parse(postmark_event("open"))[0].event_id
    skipped: Counter = Counter()
    assert postmark.parse({"RecordType": "Inbound", "MessageID": "x"}, skipped) == [] and skipped == {
        "unknown-event": 1
    }
    for payload, pointer in [
        ([], ""),
        ({}, "/RecordType"),
        (postmark_event("delivery", DeliveredAt="?"), "/DeliveredAt"),
        (postmark_event("subscription_change", SuppressSending="yes"), "/SuppressSending"),
    ]:
        with pytest.raises(MalformedPayload) as caught:
            postmark.parse(payload)
        assert caught.value.pointer == pointer


def test_to_segment_is_a_deterministic_track_message() -> None:
    [event] = postmark.parse(sample("postmark_bounce"))
    message = to_segment(event)
    assert message == to_segment(postmark.parse(sample("postmark_bounce"))[0])
    assert message["type"] == "track" and message["event"] == "Email Bounced"
    assert message["messageId"] == message_id_for("postmark", "Bounce:4323372036854775807")
    assert message["timestamp"] == "2019-11-05T16:33:54.907025Z"
    assert message["context"]["traits"]["email"] == "john@example.com"
    assert "userId" not in message and "anonymousId" not in message
    assert message["properties"]["hard"] is True and message["properties"]["suppression"] == "hard_bounce"
    # the same event id at another provider is another message
    assert message_id_for("sendgrid", "Bounce:4323372036854775807") != message["messageId"]
    # valid as a Segment message once it has an identity
    assert validate_message({**message, "anonymousId": "x"}).event == "Email Bounced"


def test_esp_event_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError):
        EspEvent(provider="x", kind="teleported", email="a@b.c", occurred_at=datetime.now(UTC), event_id="1")
