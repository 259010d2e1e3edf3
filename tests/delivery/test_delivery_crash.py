"""kill -9 in the middle of a delivery run, then a re-run: every recipient gets exactly one message.

The run is a real ``tailor deliver`` subprocess against a real SMTP server on loopback.
The server stops at a chosen point of one SMTP transaction — the two sides of the
point of no return (the final dot of DATA) — and the test SIGKILLs the client there.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from cli_runner import tailor_command

from tailor.delivery import journal

PEOPLE = 6


def shard(tmp_path: Path) -> Path:
    path = tmp_path / "campaign.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for n in range(PEOPLE):
            fh.write(
                json.dumps(
                    {
                        "send_id": f"winter-sale:u-{n}",
                        "to": f"person{n}@example.com",
                        "profile_id": f"u-{n}",
                        "subject": "Winter sale",
                        "html": f"<p>Hello {n}</p>",
                        "text": f"Hello {n}",
                        "template": "newsletter",
                    }
                )
                + "\n"
            )
    return path


def start(tmp_path: Path, database_url: str, smtp_url: str, path: Path) -> subprocess.Popen:
    (tmp_path / "rules").mkdir(exist_ok=True)
    env = {"TAILOR_DATABASE_URL": database_url, "TAILOR_RULES": str(tmp_path / "rules")}
    return tailor_command("deliver", str(path), "--smtp", smtp_url, cwd=tmp_path, env=env, wait=False)


def statuses(store) -> dict[str, str]:
    return {row["send_id"]: row["status"] for row in journal.rows(store)}


@pytest.mark.parametrize(
    ("hold", "left_as"),
    [
        # killed after the server stored message 3, before its answer reached the client
        ("hold_after", "committing"),
        # killed while the server sat on message 3's RCPT: nothing of it was transmitted
        ("hold_before", "intent"),
    ],
)
def test_kill_9_mid_campaign_then_rerun_gives_each_recipient_exactly_one_message(
    tmp_path, database_url, store, smtp, hold, left_as
):
    path = shard(tmp_path)
    setattr(smtp.mailbox, hold, 3)
    run = start(tmp_path, database_url, smtp.url, path)
    try:
        for _ in range(600):  # a generous budget on a loaded machine, left early when the run dies
            if smtp.mailbox.holding.wait(0.2) or run.poll() is not None:
                break
        assert smtp.mailbox.holding.is_set(), f"the run never reached the third message: {run.communicate()[1]}"
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    assert run.returncode == -signal.SIGKILL
    smtp.mailbox.release.set()

    before = statuses(store)
    assert before["winter-sale:u-0"] == before["winter-sale:u-1"] == "sent"
    assert before["winter-sale:u-2"] == left_as  # what the journal knew when the process died
    assert len(before) == 3  # nothing was claimed past the message in flight

    setattr(smtp.mailbox, hold, None)
    rerun = start(tmp_path, database_url, smtp.url, path)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    outcomes = {line["send_id"]: line["status"] for line in map(json.loads, out.splitlines())}
    expected_third = "unconfirmed" if left_as == "committing" else "sent"
    assert outcomes == {
        "winter-sale:u-0": "skipped",
        "winter-sale:u-1": "skipped",
        "winter-sale:u-2": expected_third,
        **{f"winter-sale:u-{n}": "sent" for n in range(3, PEOPLE)},
    }
    # the property: one message per recipient, whichever side of the final dot the kill fell
    for n in range(PEOPLE):
        assert len(smtp.mailbox.to(f"person{n}@example.com")) == 1, n
    assert len(smtp.mailbox.messages) == PEOPLE
