"""Benchmark: SMTP delivery to a local relay, tailor's journaled sender against a bare smtplib loop.

    .venv/bin/python benchmarks/delivery.py [--emails 2000] [--database-url URL]

One aiosmtpd server on loopback, in its own process (it would otherwise share the GIL with
the client being measured), accepts everything and stores nothing. Both paths send the
same number of emails (text + 20 KB HTML) over one reused connection, in the same process,
one after the other:

* (floor) a bare ``smtplib`` loop: ``EmailMessage`` built once per email, ``sendmail``;
* (tailor) :class:`tailor.delivery.sender.Sender`: the same message plus the journal
  (claim with the frequency cap, ``committing`` before the final dot, ``sent`` after:
  three committed write transactions per email), the suppression check, the
  ``List-Unsubscribe`` token.

The difference is the price of at-most-once; a relay across a network (tens of ms per
transaction) makes it small in proportion.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

HTML = "<html><body>" + "<p>Winter knits, picked for you.</p>" * 600 + "</body></html>"
SENDER = "Shop <news@shop.example>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def records(n: int, campaign: str):
    from tailor.delivery.message import RenderedEmail

    return [
        RenderedEmail(
            f"{campaign}:u-{i}",
            f"{campaign}.person{i}@example.com",
            "Winter knits ✨",
            HTML,
            "Winter knits",
            profile_id=f"{campaign}-u-{i}",
        )
        for i in range(n)
    ]


def floor(port: int, emails: list) -> float:
    from tailor.delivery.message import build_message

    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for email in emails:
            message = build_message(email, SENDER)
            conn.sendmail("news@shop.example", [email.to], message.as_bytes())
    return time.perf_counter() - started


def journaled(port: int, emails: list, store) -> float:
    from tailor.delivery.frequency import FrequencyCap
    from tailor.delivery.sender import Sender
    from tailor.delivery.smtp import SmtpConfig, SmtpTransport
    from tailor.delivery.unsubscribe import Unsubscribe

    sender = Sender(
        store,
        SmtpTransport(SmtpConfig.from_url(f"smtp://127.0.0.1:{port}")),
        SENDER,
        unsubscribe=Unsubscribe(store, "https://mail.shop.example"),
        cap=FrequencyCap(1, timedelta(hours=16)),
    )
    started = time.perf_counter()
    report = sender.deliver(emails)
    elapsed = time.perf_counter() - started
    sender.transport.close()
    assert report.counts() == {"sent": len(emails)}, report.counts()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    database_url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'delivery.db'}"
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]
    )
    for _ in range(300):  # until it listens
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    from tailor.store import Store

    store = Store(database_url)
    store.migrate()
    rounds = 5  # alternated, so both paths see the same load on a shared machine
    size = args.emails // rounds
    bare = tailor = 0.0
    try:
        floor(port, records(20, "warm"))
        for r in range(rounds):
            bare += floor(port, records(size, f"floor-{r}"))
            tailor += journaled(port, records(size, f"tailor-{r}"), store)
    finally:
        server.terminate()
        server.wait(10)
        store.close()
    n = size * rounds
    print(f"{n} emails to a loopback relay ({database_url.split(':', 1)[0]} journal)")
    print(f"  (floor) bare smtplib loop:        {n / bare:8.0f} emails/s  {bare / n * 1000:6.2f} ms each")
    print(f"  (tailor) journaled Sender:        {n / tailor:8.0f} emails/s  {tailor / n * 1000:6.2f} ms each")
    print(f"  tailor ÷ floor (time per email):  {tailor / bare:8.2f}×")


if __name__ == "__main__":
    main()
