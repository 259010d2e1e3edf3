"""SMTP delivery against a real server on loopback: the message, retries, refusals, the journal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tailor.delivery import journal
from tailor.delivery.frequency import FrequencyCap
from tailor.delivery.message import RenderedEmail, message_id
from tailor.delivery.sender import Sender
from tailor.delivery.smtp import SmtpConfig, SmtpTransport
from tailor.delivery.unsubscribe import Unsubscribe

SENDER = "Boutique Éloïse <news@shop.example>"
PUBLIC = "http://127.0.0.1:8000"


def record(n: int, **extra) -> RenderedEmail:
    values = {
        "send_id": f"campaign-1:u-{n}",
        "to": f"Zoë Müller <zoe{n}@example.com>",
        "subject": "Déjà vu — 20 % de réduction ✨",
        "preheader": "Pour vous",
        "html": f"<html><body><p>Bonjour Zoë {n}</p>\n.\n<p>.leading dot</p></body></html>",
        "text": f"Bonjour Zoë {n}\n.\n.leading dot",
        "profile_id": f"u-{n}",
        "template": "newsletter",
    }
    return RenderedEmail(**{**values, **extra})


def sender_for(store, smtp, **options) -> Sender:
    sleeps: list[float] = []
    sender = Sender(
        store,
        SmtpTransport(SmtpConfig.from_url(smtp.url)),
        SENDER,
        unsubscribe=Unsubscribe(store, PUBLIC, "unsubscribe@shop.example"),
        sleep=sleeps.append,
        **options,
    )
    sender.sleeps = sleeps  # type: ignore[attr-defined]
    return sender


def test_a_delivered_message_is_multipart_with_encoded_headers_and_one_click_unsubscribe(store, smtp):
    sender = sender_for(store, smtp)
    report = sender.deliver([record(1)])
    sender.transport.close()
    assert report.counts() == {"sent": 1}
    [msg] = smtp.mailbox.messages
    raw = msg.as_bytes()
    # RFC 2047: no raw non-ASCII byte in any header, and they decode back
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert all(b < 128 for b in head), "a header carries raw 8-bit bytes"
    assert b"=?utf-8?" in head.lower()
    assert str(msg["Subject"]) == "Déjà vu — 20 % de réduction ✨"
    assert msg["From"].addresses[0].display_name == "Boutique Éloïse"
    assert msg["To"].addresses[0].addr_spec == "zoe1@example.com"
    assert msg["Message-ID"] == message_id("campaign-1:u-1", "shop.example")
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Bonjour Zoë 1\n.\n.leading dot\n"
    assert "<p>.leading dot</p>" in msg.get_body(("html",)).get_content()
    # RFC 8058: an https (here loopback http) URL first, the mailto second, and the one-click POST marker
    unsubscribe = str(msg["List-Unsubscribe"])
    url = unsubscribe.split(">")[0].lstrip("<")
    assert url.startswith(f"{PUBLIC}/v1/unsubscribe/")
    assert "zoe1" not in unsubscribe and "example.com" not in url  # no address in the link
    assert "<mailto:unsubscribe@shop.example?subject=" in unsubscribe
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = url.rsplit("/", 1)[1]
    assert Unsubscribe(store).verify(token) == store.hash_email("zoe1@example.com")
    [row] = journal.rows(store)
    assert (row["status"], row["attempts"], row["message_id"]) == ("sent", 1, msg["Message-ID"])


def test_a_transient_refusal_is_retried_with_backoff_and_delivers_one_message(store, smtp):
    smtp.mailbox.replies = ["451 4.3.0 try again later", "421 4.7.0 too busy"]
    sender = sender_for(store, smtp, backoff=2.0)
    report = sender.deliver([record(1)])
    sender.transport.close()
    [outcome] = report.outcomes
    assert (outcome.status, outcome.attempts) == ("sent", 3)
    assert len(smtp.mailbox.messages) == 1 and smtp.mailbox.dots == 3
    assert sender.sleeps == [2.0, 4.0]  # exponential backoff between the attempts
    assert journal.rows(store)[0]["status"] == "sent"


def test_transient_refusals_past_the_retries_leave_the_email_for_the_next_run(store, smtp):
    smtp.mailbox.replies = ["451 busy"] * 3
    sender = sender_for(store, smtp, retries=2)
    [outcome] = sender.deliver([record(1)]).outcomes
    assert (outcome.status, outcome.attempts) == ("deferred", 3)
    assert smtp.mailbox.messages == []
    assert journal.rows(store)[0]["status"] == "intent"
    again = sender_for(store, smtp).deliver([record(1)])  # the next run: the server is fine now
    assert again.counts() == {"sent": 1} and len(smtp.mailbox.messages) == 1


def test_a_permanent_refusal_is_recorded_and_never_retried(store, smtp):
    smtp.mailbox.replies = ["554 5.7.1 message refused"]
    sender = sender_for(store, smtp)
    report = sender.deliver([record(1), record(2)])
    assert [o.status for o in report.outcomes] == ["failed", "sent"]
    assert report.outcomes[0].attempts == 1 and "554" in (report.outcomes[0].error or "")
    assert smtp.mailbox.dots == 2 and sender.sleeps == []  # no retry, no wait
    rows = {r["send_id"]: r for r in journal.rows(store)}
    assert rows["campaign-1:u-1"]["status"] == "failed" and "554" in rows["campaign-1:u-1"]["last_error"]
    rerun = sender_for(store, smtp).deliver([record(1), record(2)])
    assert [o.status for o in rerun.outcomes] == ["skipped", "skipped"]
    assert smtp.mailbox.dots == 2


def test_an_address_no_relay_can_take_fails_its_own_record_only(store, smtp):
    # Before: a non-ASCII local part made smtplib raise UnicodeEncodeError between MAIL
    # and RCPT: the run stopped with a traceback, and the connection was left
    # mid-transaction, so the next recipient got "503 nested MAIL command" — recorded
    # as a permanent failure. A CR/LF in the address made it go to another recipient.
    sender = sender_for(store, smtp)
    bad = {
        "idn-local": "Zoë <zoë@example.com>",
        "crlf": "Ann\r\nBcc: x@evil.example <ann@example.com>",
        "tab": "ann@example.com\tx",
        "nul": "ann@example.com\x00",
    }
    records = [record(n, send_id=f"bad:{name}", to=to) for n, (name, to) in enumerate(bad.items())]
    records += [record(8), record(9, to="Zoë <zoe@exämple.com>")]
    report = sender.deliver(records)
    sender.transport.close()
    assert [o.status for o in report.outcomes] == ["failed"] * 4 + ["sent", "sent"]
    assert smtp.mailbox.envelopes == [
        ("news@shop.example", ["zoe8@example.com"]),
        ("news@shop.example", ["zoe@xn--exmple-cua.com"]),  # an international domain goes in its IDNA form
    ]
    # the journal keeps addresses as hashes only: no error quotes one
    errors = [r["last_error"] for r in journal.rows(store) if r["send_id"].startswith("bad:")]
    assert len(errors) == 4 and not any("example" in e or "evil" in e for e in errors), errors


@pytest.mark.parametrize(
    "fields",
    [
        {"headers": {"X-Campaign\r\nBcc": "x@evil.example"}},
        {"headers": {"Bcc: x@evil.example\r\nX-Campaign": "48"}},
        {"headers": {"X-Campaign": "48\x00"}},
        {"subject": "Hello\x00 Ann"},
        {"subject": "\x1b[2J Ann"},
    ],
)
def test_a_header_that_would_inject_or_carry_a_control_character_fails_the_record(store, smtp, fields):
    # Before: a CR/LF or colon in a header's name added headers of the record's choosing,
    # and a NUL or ESC in a subject went onto the wire raw.
    sender = sender_for(store, smtp)
    report = sender.deliver([record(1, **fields), record(2)])
    assert [o.status for o in report.outcomes] == ["failed", "sent"]
    [msg] = smtp.mailbox.messages
    assert msg["Bcc"] is None and msg["X-Campaign"] is None
    assert smtp.mailbox.envelopes == [("news@shop.example", ["zoe2@example.com"])]


def test_a_relays_answer_is_kept_without_the_address_it_quotes(store, smtp):
    # Before: the answer went as it came into the journal (which holds addresses only as
    # hashes) and into every outcome line.
    smtp.mailbox.replies = ["550 5.1.1 <zoe1@example.com>: Recipient address rejected: User unknown"]
    [outcome] = sender_for(store, smtp).deliver([record(1)]).outcomes
    assert outcome.status == "failed" and "z***@example.com" in (outcome.error or "")
    [row] = journal.rows(store)
    assert "zoe1@" not in row["last_error"] and "zoe1@" not in (outcome.error or "")
    assert row["last_error"].startswith("550")


def test_a_record_longer_than_the_journal_holds_fails_alone(store, smtp):
    # Before: PostgreSQL refused the journal row (varchar 255) with a DataError that
    # stopped the whole run; SQLite kept it.
    sender = sender_for(store, smtp)
    long_ones = [record(1, send_id="s" * 256), record(3, profile_id="p" * 256), record(4, template="t" * 256)]
    report = sender.deliver([*long_ones, record(2)])
    assert [o.status for o in report.outcomes] == ["failed", "failed", "failed", "sent"]
    assert "longer than 255 characters" in (report.outcomes[0].error or "")
    assert [r["send_id"] for r in journal.rows(store)] == ["campaign-1:u-2"]


def test_a_rerun_sends_nothing_twice(store, smtp):
    emails = [record(n) for n in range(3)]
    assert sender_for(store, smtp).deliver(emails).counts() == {"sent": 3}
    assert sender_for(store, smtp).deliver(emails).counts() == {"skipped": 3}
    assert len(smtp.mailbox.messages) == 3


def test_the_frequency_cap_skips_a_second_marketing_email_but_not_a_transactional_one(store, smtp):
    cap = FrequencyCap(1, timedelta(hours=16))
    sender = sender_for(store, smtp, cap=cap)
    first = sender.send(record(1))
    second = sender.send(record(1, send_id="campaign-2:u-1"))
    receipt = sender.send(record(1, send_id="order-9:u-1", marketing=False, template="order_confirmation"))
    other = sender.send(record(2, send_id="campaign-2:u-2"))
    assert [first.status, second.status, receipt.status, other.status] == ["sent", "capped", "sent", "sent"]
    assert second.frequency_cap == {
        "frequency_cap": "capped",
        "max": 1,
        "per": "16h",
        "sent_in_period": 1,
        "why": "1 marketing email(s) in the last 16h; at most 1 marketing email per 16h",
    }
    assert receipt.frequency_cap and receipt.frequency_cap["frequency_cap"] == "exempt"
    assert len(smtp.mailbox.to("zoe1@example.com")) == 2
    assert "List-Unsubscribe" not in smtp.mailbox.to("zoe1@example.com")[1]  # transactional: no list headers


def test_the_rate_limit_spaces_the_sends(store, smtp):
    from tailor.delivery.smtp import RateLimit

    clock = [1000.0]  # a clock that only moves when the limiter sleeps: the sends themselves take no time
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    sender = sender_for(store, smtp, rate=RateLimit(2.0, sleep=sleep, clock=lambda: clock[0]))
    sender.deliver([record(n) for n in range(3)])
    assert waits == [0.5, 0.5]  # 2 per second: each send after the first waits for its slot
    assert len(smtp.mailbox.messages) == 3


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://relay:25", "use smtp:// or smtps://"),
        ("smtp://user:pw@relay.example.com:587", "credentials need smtps:// or ?starttls=true"),
        ("smtps://relay:465?starttls=true", "starttls applies to smtp:// only"),
        ("smtp://relay?rate=-1", "positive"),
        ("smtp://relay?tls=1", "unknown option 'tls'"),
    ],
)
def test_bad_smtp_urls_are_refused_with_the_reason_and_without_the_password(url, problem):
    with pytest.raises(ValueError) as caught:
        SmtpConfig.from_url(url)
    assert problem in str(caught.value) and "pw" not in str(caught.value)


def test_the_relay_url_is_parsed_with_starttls_and_credentials():
    config = SmtpConfig.from_url("smtp://ann%40shop:s%3Acret@relay.example.com:587?starttls=true&rate=10")
    assert (config.host, config.port, config.starttls, config.username, config.password, config.rate) == (
        "relay.example.com",
        587,
        True,
        "ann@shop",
        "s:cret",
        10.0,
    )
    assert "s:cret" not in config.describe()


def _left_committing_by_a_dead_run(store, email: RenderedEmail) -> None:
    import socket

    dead = f"{socket.gethostname()}:999999999:gone"  # no such pid: the run was killed
    claim = journal.claim(
        store,
        send_id=email.send_id,
        profile_id=email.profile_id,
        email_hash=store.hash_email("zoe1@example.com"),
        template=email.template,
        marketing=True,
        cap=None,
        owner=dead,
        lease=timedelta(hours=1),
    )
    assert claim.row_id is not None
    journal.committing(store, claim.row_id, dead, "<x@shop.example>")


def test_an_unconfirmed_email_is_not_resent_unless_asked(store, smtp):
    email = record(1)
    _left_committing_by_a_dead_run(store, email)
    assert sender_for(store, smtp).send(email).status == "unconfirmed"  # at most once: not sent again
    assert smtp.mailbox.messages == []
    again = sender_for(store, smtp, resend_unconfirmed=True).send(email)  # the operator opts into at-least-once
    assert again.status == "sent" and len(smtp.mailbox.messages) == 1


def test_a_row_another_live_run_holds_is_left_to_it(store, smtp):
    email = record(1)
    claim = journal.claim(
        store,
        send_id=email.send_id,
        profile_id="u-1",
        email_hash=None,
        template="newsletter",
        marketing=True,
        cap=None,
        owner="another-host:1:live",
        lease=timedelta(hours=1),
    )
    assert claim.action == "send"
    assert sender_for(store, smtp).send(email).status == "busy"
    assert smtp.mailbox.messages == []


def test_a_record_header_never_doubles_the_senders_list_unsubscribe(store, smtp):
    # Before: header names ignore case, the record's dict did not: "list-unsubscribe"
    # from a shard went out beside the sender's own List-Unsubscribe, first.
    sender = sender_for(store, smtp)
    headers = {"list-unsubscribe": "<https://elsewhere.example/u>", "X-Campaign": "47", "x-campaign": "48"}
    assert sender.deliver([record(1, headers=headers)]).counts() == {"sent": 1}
    [msg] = smtp.mailbox.messages
    [link] = msg.get_all("List-Unsubscribe")
    assert link.startswith(f"<{PUBLIC}/v1/unsubscribe/")
    assert msg.get_all("X-Campaign") == ["48"]


GOOD_LINE = '{"send_id": "w48:u-1", "to": "ann@example.com", "subject": "Hi", "text": "Hi", "html": "<p>Hi</p>"}\n'


@pytest.mark.parametrize(
    ("line", "col", "message"),
    [
        # each of these once stopped `tailor deliver` with a traceback, or was sent as it came
        (b'{"send_id": "w48:u-2", "to": "bob@example.com", "headers": "X-A: 1"}', 49, "headers must be an object"),
        (b'{"send_id": {"campaign": 48}, "to": "bob@example.com"}', 2, "send_id must be a string, got dict"),
        (b'{"send_id": "w48:u-2", "to": "bob@example.com", "subject": NaN}', 1, "NaN is not a JSON number"),
        (b'{"send_id": "w48:u-2", "to": "bob@example.com", "html": "\\ud800"}', 58, "lone UTF-16 surrogate"),
        (b'{"send_id": "w48:u-2", "to": "bob@example.com", "text": "caf\xe9"}', 61, "not UTF-8 text"),
        (b'{"send_id": "w48:u-2", "to": "bob@example.com", "marketing": "no"}', 49, "marketing must be true or false"),
        (b'{"send_id": "' + b"s" * 300 + b'", "to": "bob@example.com"}', 2, "send_id is longer than 255 characters"),
    ],
)
def test_a_shard_line_of_the_wrong_shape_is_reported_at_path_line_col(tmp_path, database_url, smtp, line, col, message):
    from cli_runner import tailor_command

    shard = tmp_path / "shard.jsonl"
    shard.write_bytes(GOOD_LINE.encode() + line + b"\n")
    done = tailor_command("deliver", str(shard), "--smtp", smtp.url, "--database-url", database_url, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{shard}:2:{col}: " in done.stderr and message in done.stderr, done.stderr
    assert [str(m["To"]) for m in smtp.mailbox.messages] == ["ann@example.com"]  # the line before it went out
