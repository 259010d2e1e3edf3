"""The ``tailor`` command line: a thin layer over :class:`tailor.Tailor`."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="tailor")
def main() -> None:
    """tailor — send-time email personalization."""
