"""``tailor triggers scan``: who is due now, and notifying the ESP exactly once per episode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click

from tailor.cli.common import database_option, fail, rules_option, settings_from


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
@click.option("--trigger", "names", multiple=True, help="Only this trigger (repeatable; default: all declared).")
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
    names: tuple[str, ...],
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
    from tailor.triggers.scan import Delivery, notify
    from tailor.triggers.scan import scan as find

    settings = settings_from({"rules": rules, "database_url": database_url})
    at = _at(at_text)
    try:
        book = RuleBook.load(settings.rules)
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
        due = find(store, specs, at)
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


if __name__ == "__main__":  # ``python -m tailor.cli.triggers scan ...``
    triggers()
