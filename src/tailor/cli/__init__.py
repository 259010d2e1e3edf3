"""The ``tailor`` command line: a thin layer over :class:`tailor.Tailor`."""

from __future__ import annotations

import click

from tailor.cli.batch import batch
from tailor.cli.check import check
from tailor.cli.deliver import deliver, send_test
from tailor.cli.experiments import experiments
from tailor.cli.ingest import ingest
from tailor.cli.maintenance import maintenance
from tailor.cli.monitor import monitor
from tailor.cli.personas import personas
from tailor.cli.preview import preview
from tailor.cli.profiles import profiles
from tailor.cli.recs import recs
from tailor.cli.render import render
from tailor.cli.segments import segments
from tailor.cli.serve import serve
from tailor.cli.triggers import triggers


@click.group()
@click.version_option(package_name="tailor")
def main() -> None:
    """tailor — send-time email personalization."""


main.add_command(render)
main.add_command(check)
main.add_command(preview)
main.add_command(serve)
main.add_command(recs)
main.add_command(ingest)
main.add_command(experiments)
main.add_command(batch)
main.add_command(triggers)
main.add_command(segments)
main.add_command(profiles)
main.add_command(maintenance)
main.add_command(personas)
main.add_command(deliver)
main.add_command(send_test)
main.add_command(monitor)
