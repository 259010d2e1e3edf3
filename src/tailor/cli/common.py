"""Helpers shared by the CLI commands: building Tailor from options, reporting errors."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from tailor.config import ConfigError, Settings
from tailor.core import Tailor


def settings_from(ctx_options: dict[str, Any]) -> Settings:
    try:
        settings = Settings.load()
    except ConfigError as exc:
        fail(str(exc))
    values = {k: v for k, v in ctx_options.items() if v is not None}
    return settings.with_values(**values) if values else settings


def tailor_from(templates: str | None, rules: str | None, database_url: str | None) -> Tailor:
    settings = settings_from({"templates": templates, "rules": rules, "database_url": database_url})
    return Tailor(settings.templates, settings.rules, settings.database_url, settings=settings)


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr and a non-zero exit; never a traceback."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


templates_option = click.option(
    "--templates", type=click.Path(file_okay=False), default=None, help="Templates folder (TAILOR_TEMPLATES)."
)
rules_option = click.option(
    "--rules", type=click.Path(file_okay=False), default=None, help="Rules folder (TAILOR_RULES)."
)
database_option = click.option(
    "--database-url", default=None, help="SQLAlchemy URL of the store (TAILOR_DATABASE_URL)."
)


def require_extra(module: str, extra: str, what: str) -> None:
    """Fail with the install command when an optional extra ``what`` needs is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        fail(f"{what} needs {module}: pip install 'tailor[{extra}]'")
