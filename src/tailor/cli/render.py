"""``tailor render``: one email for one recipient."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tailor.cli.common import database_option, fail, rules_option, tailor_from, templates_option
from tailor.email import TailorError, TemplateBroken


@click.command("render")
@click.argument("template")
@click.option("--profile", "profile_file", type=click.Path(dir_okay=False), help="A profile document (JSON).")
@click.option("--recipient", help="A stored recipient: profile id, user id or email.")
@click.option("--at", help="Send time, ISO 8601 (default: now).")
@click.option("--context", "context_json", help="ESP send-time data as a JSON object, or @FILE.")
@click.option("--format", "fmt", type=click.Choice(["html", "text", "json"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@templates_option
@rules_option
@database_option
def render(
    template: str,
    profile_file: str | None,
    recipient: str | None,
    at: str | None,
    context_json: str | None,
    fmt: str,
    output: str | None,
    templates: str | None,
    rules: str | None,
    database_url: str | None,
) -> None:
    """Render TEMPLATE for one recipient (--profile FILE.json or --recipient ID)."""
    if bool(profile_file) == bool(recipient):
        fail("give exactly one of --profile FILE.json or --recipient ID")
    profile = _read_json(profile_file, "profile") if profile_file else None
    context = None
    if context_json:
        context = (
            _read_json(context_json[1:], "context")
            if context_json.startswith("@")
            else _parse_json(context_json, "--context")
        )
    ref = None
    if recipient:
        ref = {"email": recipient} if "@" in recipient else {"id": recipient}
    tailor = tailor_from(templates, rules, database_url if recipient or database_url else None)
    try:
        email = tailor.render(template, profile=profile, recipient=ref, at=at, context=context)
    except TemplateBroken as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        fail(str(exc))
    except TailorError as exc:
        fail(str(exc))
    if fmt == "html":
        out = email.html
    elif fmt == "text":
        out = email.text
    else:
        out = json.dumps(email.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"
    if output:
        Path(output).write_text(out, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(out, nl=False)


def _read_json(path: str, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {what} file {path}: {exc.strerror}")
    return _parse_json(text, path)


def _parse_json(text: str, where: str) -> Any:
    """Any JSON value: ``Tailor.render`` checks its shape and names the wrong part (``/profile: ...``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{where}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}")
