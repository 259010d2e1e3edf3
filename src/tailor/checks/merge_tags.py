"""Merge tags from other tools, reported with what to write in tailor instead.

A template ported from Mailchimp, Salesforce, Braze or a CRM keeps its own merge tags:
``*|FNAME|*``, ``%%First Name%%``, ``[[FirstName]]``, ``{$name}``, or ``{{FirstName}}``.
Jinja prints the first four as they are ("Dear [[FirstName]]") and the last as nothing
("Hey ,"). Each is reported where it is, with the tailor equivalent when a profile field
matches its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from tailor.problems import Problem
from tailor.rendering.source import line_col
from tailor.rendering.tokens import JINJA_TOKEN

#: the merge-tag syntaxes of other tools, each with the name inside
FOREIGN_TAGS = (
    ("Mailchimp", re.compile(r"\*\|\s*(?P<name>[A-Za-z][\w:-]*)\s*\|\*")),
    ("Salesforce Marketing Cloud", re.compile(r"%%(?P<name>[A-Za-z][\w ]*?)%%")),
    ("another tool", re.compile(r"\[\[\s*(?P<name>[A-Za-z][\w. ]*?)\s*\]\]")),
    ("another tool", re.compile(r"\{\$(?P<name>[A-Za-z][\w.]*)\}")),
)
#: the names those tools use where tailor has a profile trait of another name
_ALIASES = {"fname": "first_name", "lname": "last_name", "firstname": "first_name", "lastname": "last_name"}


def snake_case(name: str) -> str:
    """``FirstName``, ``First Name``, ``FNAME``, ``first-name`` → ``first_name`` (or an alias)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    snake = re.sub(r"[\s\-:.]+", "_", spaced).lower()
    return _ALIASES.get(snake.replace("_", ""), snake)


def equivalent(name: str, profile_fields: Iterable[str] | None) -> str:
    """What to write in tailor for a foreign merge tag named ``name``."""
    field = snake_case(name)
    known = set(profile_fields) if profile_fields is not None else None
    if known is None or field in known:
        return f"{{{{ profile.{field} | default('') }}}}"
    return f"{{{{ profile.<field> }}}} (no profile field is called {field!r})"


def looks_foreign(name: str) -> bool:
    """``FirstName``/``FNAME``: a capitalized name, as other tools spell theirs (tailor's are lower case)."""
    return name[:1].isupper()


def foreign_name_message(name: str, profile_fields: Iterable[str] | None) -> str | None:
    """The message for ``{{ FirstName }}``, or None when the name does not look like a foreign tag."""
    if not looks_foreign(name):
        return None
    return (
        f"{{{{ {name} }}}} looks like a merge tag from another tool and prints nothing: "
        f"in tailor write {equivalent(name, profile_fields)}"
    )


def foreign_tags(files: Mapping[Path, str], profile_fields: Iterable[str] | None) -> list[Problem]:
    """Foreign merge tags in each file's text (front matter included), outside Jinja tags."""
    return [problem for path, text in files.items() for problem in _scan(str(path), text, profile_fields)]


def _scan(path: str, text: str, profile_fields: Iterable[str] | None) -> list[Problem]:
    masked = JINJA_TOKEN.sub(lambda m: " " * len(m.group(0)), text)
    found: list[Problem] = []
    for tool, pattern in FOREIGN_TAGS:
        for match in pattern.finditer(masked):
            line, col = line_col(text, match.start())
            found.append(
                Problem(
                    path,
                    line,
                    col,
                    f"{match.group(0)} is a merge tag from {tool} and would be sent as it is: "
                    f"in tailor write {equivalent(match.group('name'), profile_fields)}",
                )
            )
    return found
