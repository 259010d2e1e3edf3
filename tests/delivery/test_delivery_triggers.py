"""``tailor triggers scan --deliver`` and ``tailor batch --deliver``: the real commands against a real SMTP server."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from cli_runner import ROOT, tailor_command

from tailor.delivery import journal
from tailor.delivery.message import RenderedEmail
from tailor.delivery.sender import Sender
from tailor.delivery.smtp import SmtpConfig, SmtpTransport

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PEOPLE = 4


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def abandoned_carts(store) -> None:
    messages = []
    for n in range(PEOPLE):
        user = f"u-{n}"
        messages.append(
            {
                "type": "identify",
                "userId": user,
                "messageId": f"id-{n}",
                "timestamp": iso(AT - timedelta(days=3)),
                "traits": {"email": f"cart{n}@example.com", "first_name": "Cleo"},
            }
        )
        messages.append(
            {
                "type": "track",
                "event": "Product Added",
                "userId": user,
                "messageId": f"cart-{n}",
                "timestamp": iso(AT - timedelta(hours=3)),
                "properties": {"product_id": "sku-0001", "price": 49.0, "quantity": 1, "name": "Scarf"},
            }
        )
    store.ingest(messages)


def shop_copy(tmp_path):
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "sending.yaml").write_text("frequency_cap:\n  max: 1\n  per: 16h\n", encoding="utf-8")


def scan(tmp_path, database_url, smtp):
    return tailor_command(
        "triggers",
        "scan",
        "--at",
        iso(AT),
        "--deliver",
        smtp.url,
        "--trigger",
        "cart_abandonment",
        "--templates",
        str(tmp_path / "templates"),
        "--rules",
        str(tmp_path / "rules"),
        "--database-url",
        database_url,
        cwd=tmp_path,
    )


def test_a_trigger_scan_delivers_each_episode_once_and_applies_the_frequency_cap(tmp_path, database_url, store, smtp):
    shop_copy(tmp_path)
    abandoned_carts(store)
    # u-0 got a newsletter an hour ago: Smart Sending keeps the cart reminder from going out
    sender = Sender(store, SmtpTransport(SmtpConfig.from_url(smtp.url)), "Shop <news@shop.example>")
    sender.send(RenderedEmail("newsletter-12:u-0", "cart0@example.com", "News", "<p>n</p>", "n", profile_id="u-0"))
    sender.transport.close()
    smtp.mailbox.messages.clear()

    first = scan(tmp_path, database_url, smtp)
    assert first.returncode == 0, first.stderr
    lines = {line["profile_id"]: line for line in map(json.loads, first.stdout.splitlines())}
    assert lines["u-0"]["delivery"]["status"] == "capped"
    assert lines["u-0"]["delivery"]["frequency_cap"]["frequency_cap"] == "capped"
    assert {lines[f"u-{n}"]["delivery"]["status"] for n in range(1, PEOPLE)} == {"sent"}
    assert lines["u-1"]["delivery"]["frequency_cap"]["frequency_cap"] == "allowed"
    assert len(smtp.mailbox.messages) == PEOPLE - 1
    reminder = smtp.mailbox.to("cart1@example.com")[0]
    assert "cart" in str(reminder["Subject"]).lower() or reminder.get_body(("html",)) is not None
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    again = scan(tmp_path, database_url, smtp)  # the same moment: every episode was handled
    assert again.returncode == 0, again.stderr
    assert len(smtp.mailbox.messages) == PEOPLE - 1
    sent = [r for r in journal.rows(store) if r["send_id"].startswith("trigger:cart_abandonment:")]
    assert sorted(r["status"] for r in sent) == ["capped"] + ["sent"] * (PEOPLE - 1)


@pytest.mark.slow  # two Dask local clusters, one per run
def test_batch_deliver_sends_the_campaign_once_across_reruns(tmp_path, database_url, store, smtp):
    shop_copy(tmp_path)
    abandoned_carts(store)
    audience = tmp_path / "audience.csv"
    audience.write_text("id\n" + "".join(f"u-{n}\n" for n in range(PEOPLE)), encoding="utf-8")
    args = [
        "batch",
        "newsletter",
        "--audience",
        str(audience),
        "--out",
        str(tmp_path / "out"),
        "--workers",
        "1",
        "--at",
        iso(AT),
        "--deliver",
        smtp.url,
        "--campaign",
        "weekly-48",
        "--templates",
        str(tmp_path / "templates"),
        "--rules",
        str(tmp_path / "rules"),
        "--database-url",
        database_url,
    ]
    first = tailor_command(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"delivery: {PEOPLE} sent" in first.stdout
    trace = [json.loads(line) for line in (tmp_path / "out" / "delivery.jsonl").read_text().splitlines()]
    assert {line["status"] for line in trace} == {"sent"}
    assert {line["frequency_cap"]["frequency_cap"] for line in trace} == {"allowed"}
    assert sorted(str(m["To"]) for m in smtp.mailbox.messages) == [f"cart{n}@example.com" for n in range(PEOPLE)]
    rerun = tailor_command(*args, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert f"delivery: {PEOPLE} skipped" in rerun.stdout
    assert len(smtp.mailbox.messages) == PEOPLE


def test_batch_deliver_without_a_campaign_id_is_refused(tmp_path):
    audience = tmp_path / "a.csv"
    audience.write_text("id\nu-1\n", encoding="utf-8")
    done = tailor_command(
        "batch",
        "newsletter",
        "--audience",
        str(audience),
        "--out",
        "out",
        "--deliver",
        "smtp://127.0.0.1:1",
        cwd=tmp_path,
    )
    assert done.returncode == 1 and "--deliver needs --campaign ID" in done.stderr


def test_a_longest_user_id_still_gets_its_reminder_once(tmp_path, database_url, store, smtp):
    """A userId of the longest accepted length (255) makes a send id longer than the journal's column:
    PostgreSQL enforces the column, so the episode's send id must fit it, and stay the same across scans."""
    shop_copy(tmp_path)
    long_id = "u-" + "x" * 253
    store.ingest(
        [
            {
                "type": "identify",
                "userId": long_id,
                "messageId": "id-long",
                "timestamp": iso(AT - timedelta(days=3)),
                "traits": {"email": "long@example.com", "first_name": "Lou"},
            },
            {
                "type": "track",
                "event": "Product Added",
                "userId": long_id,
                "messageId": "cart-long",
                "timestamp": iso(AT - timedelta(hours=3)),
                "properties": {"product_id": "sku-0001", "price": 49.0, "quantity": 1, "name": "Scarf"},
            },
        ]
    )
    first = scan(tmp_path, database_url, smtp)
    assert first.returncode == 0, first.stderr
    (line,) = map(json.loads, first.stdout.splitlines())
    assert line["delivery"]["status"] == "sent", line
    assert [str(m["To"]) for m in smtp.mailbox.messages] == ["long@example.com"]
    again = scan(tmp_path, database_url, smtp)
    assert again.returncode == 0, again.stderr
    assert len(smtp.mailbox.messages) == 1  # the same episode, the same (fitted) send id: not sent twice
    (row,) = [r for r in journal.rows(store) if r["send_id"].startswith("trigger:cart_abandonment:")]
    assert row["status"] == "sent" and len(row["send_id"]) <= 255


def test_a_fitted_send_id_is_stable_fits_and_still_says_whose():
    """Trigger, campaign and ESP send ids are made of parts that each fit 255 characters; together they may not."""
    from tailor.profile import fitted_id

    assert fitted_id("trigger:cart_abandonment:u-1:k") == "trigger:cart_abandonment:u-1:k"  # what fits is kept
    first = fitted_id("trigger:cart_abandonment:" + "x" * 255 + ":episode-1")
    second = fitted_id("trigger:cart_abandonment:" + "x" * 255 + ":episode-2")
    assert len(first) <= 255 and first.startswith("trigger:cart_abandonment:xxx")
    assert first == fitted_id("trigger:cart_abandonment:" + "x" * 255 + ":episode-1")  # a re-run finds its record
    assert first != second  # two episodes differing only past the kept prefix stay two sends


def test_batch_deliver_sends_to_every_recipient_whatever_their_id(tmp_path, database_url, store, smtp):
    """Send ids once kept an id's URL-safe characters only: "山田" and "鈴木" both became
    "weekly-48-_", as did "u/1" and "u_1", so all but the first were skipped as repeats."""
    shop_copy(tmp_path)
    ids = ["山田", "鈴木", "u/1", "u_1", "u 1", "u:1"]
    store.ingest(
        [
            {
                "type": "identify",
                "userId": user,
                "messageId": f"id-{n}",
                "timestamp": iso(AT - timedelta(days=3)),
                "traits": {"email": f"person{n}@example.com", "first_name": "Kai"},
            }
            for n, user in enumerate(ids)
        ]
    )
    audience = tmp_path / "audience.jsonl"
    audience.write_text("".join(json.dumps({"id": user}) + "\n" for user in ids), encoding="utf-8")
    args = ["batch", "newsletter", "--audience", str(audience), "--out", str(tmp_path / "out"), "--workers", "1"]
    args += ["--at", iso(AT), "--deliver", smtp.url, "--campaign", "weekly-48", "--database-url", database_url]
    args += ["--templates", str(tmp_path / "templates"), "--rules", str(tmp_path / "rules")]
    first = tailor_command(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"delivery: {len(ids)} sent" in first.stdout, first.stdout
    expected = sorted(f"person{n}@example.com" for n in range(len(ids)))
    assert sorted(str(m["To"]) for m in smtp.mailbox.messages) == expected
    send_ids = [json.loads(line)["send_id"] for line in (tmp_path / "out" / "delivery.jsonl").read_text().splitlines()]
    assert len(set(send_ids)) == len(ids)
    rerun = tailor_command(*args, cwd=tmp_path)
    assert f"delivery: {len(ids)} skipped" in rerun.stdout and len(smtp.mailbox.messages) == len(ids)
