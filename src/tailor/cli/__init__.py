"""The ``tailor`` command line: a thin layer over :class:`tailor.Tailor`."""

from __future__ import annotations

import click

from tailor.cli.check import check
from tailor.cli.render import render


@click.group()
@click.version_option(package_name="tailor")
def main() -> None:
    """tailor — send-time email personalization."""


main.add_command(render)
main.add_command(check)
