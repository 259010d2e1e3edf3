"""``tailor deliver`` (shards of rendered emails → SMTP) and ``tailor send-test`` (one email to the seed list)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from tailor.cli.common import database_option, fail, rules_option, settings_from, tailor_from, templates_option
from tailor.config import Settings

smtp_option = click.option(
    "--smtp", "smtp_url", default=None, help="SMTP relay URL, smtp://… or smtps://… (default: TAILOR_SMTP_URL)."
)


def deliver_records(
    settings: Settings,
    records: Iterable[Any],
    *,
    smtp_url: str | None,
    resend_unconfirmed: bool = False,
    lines_to: Path | None = None,
) -> Any:
    """Send ``records`` through the relay, one JSON line per outcome (stdout, or the file ``lines_to``); the report.

    The one way every command delivers (``deliver``, ``batch --deliver``, ``triggers scan
    --deliver``): the frequency cap comes from ``rules/``, the journal from the store.
    """
    from tailor.delivery.smtp import RelayUnusable
    from tailor.problems import ProblemError

    store = _store(settings)
    try:
        sender = open_cli_sender(settings, store, smtp_url)
        sender.resend_unconfirmed = resend_unconfirmed
        try:
            if lines_to is None:
                return sender.deliver(records, echo=_echo)
            with open(lines_to, "a", encoding="utf-8") as fh:
                return sender.deliver(records, echo=lambda o: fh.write(json.dumps(o.to_dict(), sort_keys=True) + "\n"))
        except RelayUnusable as exc:
            fail(str(exc))
        except ProblemError as exc:  # a malformed line in a shard: the lines before it went out
            fail(str(exc))
        finally:
            sender.transport.close()
    finally:
        store.close()


def _store(settings: Settings) -> Any:
    from tailor.store import Store

    store = Store(settings.database_url)
    store.migrate()
    return store


def open_cli_sender(settings: Settings, store: Any, smtp_url: str | None) -> Any:
    """The sender every command uses: the relay, the cap from ``rules/``; a clear exit on a setting missing."""
    from tailor.delivery.sender import open_sender
    from tailor.problems import ProblemError
    from tailor.rules import RuleBook

    try:
        cap = RuleBook.load(settings.rules).frequency_cap if Path(settings.rules).is_dir() else None
    except ProblemError as exc:
        fail("the rules have errors (run `tailor check`):\n" + "\n".join(str(p) for p in exc.problems))
    try:
        return open_sender(settings, store, smtp_url=smtp_url, cap=cap)
    except ValueError as exc:
        fail(str(exc))


def _echo(outcome: Any) -> None:
    click.echo(json.dumps(outcome.to_dict(), sort_keys=True))


def report_line(report: Any) -> str:
    return f"delivery: {report.summary()}"


@click.command("deliver")
@click.argument("shards", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@smtp_option
@click.option(
    "--resend-unconfirmed",
    is_flag=True,
    help="Send again the emails a crash left between the final dot and the server's answer (at-least-once).",
)
@rules_option
@database_option
def deliver(
    shards: tuple[str, ...], smtp_url: str | None, resend_unconfirmed: bool, rules: str | None, database_url: str | None
) -> None:
    """Send every rendered email of SHARDS (JSON lines or Parquet) by SMTP, each send_id at most once.

    One JSON line per email (send_id, status, attempts, error, frequency_cap). Exit 1 when
    an email failed or was deferred (4xx until the retries ran out: a re-run sends it).
    """
    from tailor.delivery.message import read_rendered

    settings = settings_from({"rules": rules, "database_url": database_url})

    def records() -> Iterable[Any]:
        for shard in shards:
            yield from read_rendered(shard)

    report = deliver_records(settings, records(), smtp_url=smtp_url, resend_unconfirmed=resend_unconfirmed)
    click.echo(report_line(report), err=True)
    if {"failed", "deferred"} & set(report.counts()):
        raise SystemExit(1)


@click.command("send-test")
@click.argument("template")
@click.option("--persona", required=True, help="Persona name (a file stem in --personas).")
@click.option("--personas", "personas_dir", default="fixtures/personas", show_default=True)
@click.option("--to", "recipients", multiple=True, help="A seed address (repeatable; default: TAILOR_TEST_RECIPIENTS).")
@click.option("--at", help="Send time, ISO 8601 (default: now).")
@smtp_option
@templates_option
@rules_option
@database_option
def send_test(
    template: str,
    persona: str,
    personas_dir: str,
    recipients: tuple[str, ...],
    at: str | None,
    smtp_url: str | None,
    templates: str | None,
    rules: str | None,
    database_url: str | None,
) -> None:
    """Render TEMPLATE for --persona and send it to the seed list ("[TEST]" subject)."""
    from tailor.delivery.seeds import send_test as run
    from tailor.delivery.smtp import RelayUnusable
    from tailor.email import TailorError
    from tailor.preview.personas import load_personas
    from tailor.problems import ProblemError

    try:
        personas = load_personas(Path(personas_dir))
    except ProblemError as exc:
        fail(str(exc))
    if persona not in personas:
        fail(f"unknown persona {persona!r} (known: {', '.join(sorted(personas)) or 'none'})")
    tailor = tailor_from(templates, rules, database_url)
    tailor.create_store = True
    try:
        report = run(tailor, template, personas[persona], recipients=recipients, smtp_url=smtp_url, at=at)
    except (ValueError, TailorError, RelayUnusable) as exc:
        fail(str(exc))
    for outcome in report.outcomes:
        _echo(outcome)
    click.echo(report_line(report), err=True)
    if set(report.counts()) - {"sent"}:
        raise SystemExit(1)
