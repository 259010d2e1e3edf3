"""``tailor send-test``: one template for one persona, to the seed list, through the SMTP setting."""

from __future__ import annotations

import json

from cli_runner import ROOT, tailor_command

from tailor.delivery import journal


def send_test(tmp_path, smtp, *extra: str, seeds: str = "seed1@shop.example,seed2@shop.example"):
    return tailor_command(
        "send-test",
        "welcome",
        "--persona",
        "new-subscriber",
        "--personas",
        str(ROOT / "fixtures" / "personas"),
        "--templates",
        str(ROOT / "templates"),
        "--rules",
        str(ROOT / "rules"),
        *extra,
        cwd=tmp_path,
        env={
            "TAILOR_SMTP_URL": smtp.url,
            "TAILOR_TEST_RECIPIENTS": seeds,
            "TAILOR_DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}",
        },
    )


def test_send_test_delivers_to_each_seed_and_counts_nothing_for_the_persona(tmp_path, smtp):
    done = send_test(tmp_path, smtp)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["status"] for line in done.stdout.splitlines()] == ["sent", "sent"]
    assert sorted(str(m["To"]) for m in smtp.mailbox.messages) == ["seed1@shop.example", "seed2@shop.example"]
    assert all(str(m["Subject"]).startswith("[TEST] ") for m in smtp.mailbox.messages)
    from tailor.store import Store

    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    rows = journal.rows(store)
    assert {r["marketing"] for r in rows} == {False} and {r["profile_id"] for r in rows} == {None}
    store.close()


def test_send_test_names_what_is_missing(tmp_path, smtp):
    done = send_test(tmp_path, smtp, seeds="")
    assert done.returncode == 1 and "TAILOR_TEST_RECIPIENTS" in done.stderr and "Traceback" not in done.stderr
    unknown = send_test(tmp_path, smtp, "--persona", "nobody")
    assert unknown.returncode == 1 and "unknown persona 'nobody'" in unknown.stderr
