"""``tailor triggers scan``: who is due now, and notifying the ESP exactly once per episode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click

from tailor.cli.common import database_option, fail, rules_option, settings_from, templates_option


@click.group("triggers")
def triggers() -> None:
    """Behavioural triggers (cart and browse abandonment, ...)."""


def _at(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    from tailor.vocabulary.times import to_utc

    moment = to_utc(value)
    if moment is None:
        fail(f"--at: not an ISO 8601 time: {value!r}")
    return moment


@triggers.command("scan")
@click.option("--at", "at_text", help="Scan as of this time, ISO 8601 (default: now).")
@click.option("--notify", "notify_url", help="POST each due recipient to this URL (signed, once per episode).")
@click.option(
    "--deliver",
    "deliver_url",
    help="Render each due recipient's email and send it by SMTP (smtp://… or smtps://…), once per episode.",
)
@click.option(
    "--template",
    "template_name",
    help="With --deliver: the template to send (default: the template named like the trigger).",
)
@click.option("--trigger", "names", multiple=True, help="Only this trigger (repeatable; default: all declared).")
@templates_option
@click.option("--full", is_flag=True, help="Read every event, not only what changed since the last scan.")
@rules_option
@database_option
@click.option("--retries", default=4, show_default=True, help="Retries per notification (5xx, 429, network errors).")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per notification request.")
@click.option("--backoff", default=0.5, show_default=True, help="First retry wait in seconds (doubles, capped at 8).")
@click.option(
    "--lease",
    "lease_seconds",
    default=300,
    show_default=True,
    help="Seconds a scan owns a claimed notification before another scan may deliver it.",
)
def scan(
    at_text: str | None,
    notify_url: str | None,
    deliver_url: str | None,
    template_name: str | None,
    names: tuple[str, ...],
    templates: str | None,
    full: bool,
    rules: str | None,
    database_url: str | None,
    retries: int,
    timeout: float,
    backoff: float,
    lease_seconds: int,
) -> None:
    """Print one JSON line per recipient whose trigger is due (profile_id, trigger, key, since, items).

    With --notify, each line is POSTed once and acknowledged in the store; notifications
    an earlier scan claimed but could not deliver are delivered again (same Idempotency-Key).
    Exit 1 when a notification could not be delivered (it stays pending for the next scan).
    """
    from tailor.problems import ProblemError
    from tailor.rules import RuleBook
    from tailor.store import Store
    from tailor.triggers.scan import Delivery, incremental_scan, notify, scan, settle_cursor

    if notify_url and deliver_url:
        fail("give --notify URL (the ESP sends) or --deliver smtp://… (tailor sends), not both")
    settings = settings_from({"templates": templates, "rules": rules, "database_url": database_url})
    at = _at(at_text)
    try:
        book = RuleBook.load(settings.rules, artifacts=settings.artifacts)
    except ProblemError as exc:
        fail("the rules have errors (run `tailor check`):\n" + "\n".join(str(p) for p in exc.problems))
    specs = dict(book.triggers)
    unknown = [n for n in names if n not in specs]
    if unknown:
        fail(f"unknown trigger {unknown[0]!r} (declared: {', '.join(sorted(specs)) or 'none'})")
    if names:
        specs = {n: specs[n] for n in names}
    store = Store(settings.database_url)
    try:
        store.migrate()
        due = scan(store, specs, at) if full else incremental_scan(store, specs, at)
        if deliver_url:
            lease = timedelta(seconds=lease_seconds)
            _deliver(store, settings, specs, due, at, deliver_url, template_name, lease, settle=not full)
            return
        if not notify_url:
            for item in due:
                click.echo(json.dumps(item, sort_keys=True, default=str))
            click.echo(f"{len(due)} due as of {at.isoformat()}", err=True)
            return
        secret = settings.secret[0] if settings.secret else None
        if secret is None:
            click.echo("warning: TAILOR_SECRET is not set: notifications are not signed", err=True)
        delivery = Delivery(
            notify_url, secret, retries=retries, timeout=timeout, backoff=backoff, max_bytes=settings.outbound_max_bytes
        )

        def echo(outcome) -> None:
            line = {
                **outcome.payload,
                "notified": outcome.notified,
                "redelivered": outcome.redelivered,
                "attempts": outcome.attempts,
            }
            if outcome.error:
                line["error"] = outcome.error
            click.echo(json.dumps(line, sort_keys=True, default=str))

        report = notify(store, due, at, delivery, lease=timedelta(seconds=lease_seconds), echo=echo)
        if not full:
            settle_cursor(store, specs)  # every due episode is claimed now
        sent = sum(o.notified for o in report.outcomes)
        click.echo(
            f"{len(due)} due as of {at.isoformat()}; {sent} notified, {len(report.failed)} failed "
            f"(left pending), {report.claimed_elsewhere} claimed by another scan",
            err=True,
        )
        if report.failed:
            raise SystemExit(1)
    finally:
        store.close()


def _deliver(
    store, settings, specs, due, at, url: str, template_name: str | None, lease: timedelta, *, settle: bool
) -> None:
    """``--deliver``: the outbox claims each episode once; each is rendered and mailed once."""
    from tailor.cli.deliver import open_cli_sender, report_line
    from tailor.core import Tailor
    from tailor.delivery.records import TriggerMail
    from tailor.delivery.sender import DeliveryReport
    from tailor.delivery.smtp import RelayUnusable
    from tailor.triggers.scan import notify

    tailor = Tailor(settings.templates, settings.rules, settings.database_url, settings=settings)
    known = set(tailor.template_names())
    for trigger in specs:
        if (template_name or trigger) not in known:
            fail(f"no template {template_name or trigger!r} to send for trigger {trigger!r}: give --template NAME")
    sender = open_cli_sender(settings, store, url)
    mail = TriggerMail(tailor, sender, lambda trigger: template_name or trigger)

    def echo(outcome) -> None:
        p = outcome.payload
        delivery = mail.outcomes.get((p["profile_id"], p["trigger"], p["key"]), {"status": "pending"})
        click.echo(json.dumps({**p, "delivery": delivery}, sort_keys=True, default=str))

    try:
        report = notify(store, due, at, None, send=mail, lease=lease, echo=echo)
    except RelayUnusable as exc:
        fail(str(exc))
    finally:
        sender.transport.close()
    if settle:
        from tailor.triggers.scan import settle_cursor

        settle_cursor(store, specs)  # every due episode is claimed now, as after --notify
    summary = DeliveryReport()
    summary.outcomes = [_as_outcome(o) for o in mail.outcomes.values()]
    click.echo(f"{len(due)} due as of {at.isoformat()}; {report_line(summary)}", err=True)
    if report.failed:
        raise SystemExit(1)


def _as_outcome(line: dict):
    from tailor.delivery.sender import Outcome

    return Outcome(line.get("send_id", ""), line["status"])


if __name__ == "__main__":  # ``python -m tailor.cli.triggers scan ...``
    triggers()
