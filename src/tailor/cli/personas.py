"""``tailor personas generate``: write the coverage personas of the shop's rules."""

from __future__ import annotations

from pathlib import Path

import click

from tailor.cli.common import database_option, fail, rules_option, tailor_from, templates_option
from tailor.problems import ProblemError

#: where the example shop keeps its generated personas (beside the hand-written ones)
DEFAULT_OUT = "fixtures/personas/coverage"


@click.group("personas")
def personas() -> None:
    """Personas: the profile documents previews and coverage checks render."""


@personas.command("generate")
@click.option("--out", "out_dir", default=DEFAULT_OUT, show_default=True, type=click.Path(file_okay=False))
@click.option("--at", help="Send time the trigger events are timed for, ISO 8601 (default: now).")
@templates_option
@rules_option
@database_option
def generate(out_dir: str, at: str | None, templates: str | None, rules: str | None, database_url: str | None) -> None:
    """Write the fewest profiles that make every rule win, every abort fire, every block and fallback render.

    Exits 1 when a rule can never be reached (a dead rule), after writing the others.
    """
    from tailor.preview.coverage import generate as generate_personas
    from tailor.preview.coverage import summary_lines, write

    tailor = tailor_from(templates, rules, database_url)
    try:
        generated = generate_personas(tailor, at)
    except ProblemError as exc:  # the rules do not load: `tailor check` says where
        fail(f"the rules have errors (run `tailor check`):\n{exc}")
    written = write(generated, Path(out_dir))
    for line in summary_lines(generated, written):
        click.echo(line)
    for dead in generated.dead:
        click.echo(f"dead: {dead}", err=True)
    raise SystemExit(1 if generated.dead else 0)
