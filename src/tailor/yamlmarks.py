"""The one YAML loader for the marketers' files: positions kept, YAML 1.2 booleans.

Every YAML file tailor reads — rule files (slots, segments, triggers, experiments,
recommendation filters), template front matter and settings files, the retention
policy — goes through :func:`load_marked` (or :func:`read_marked` for a file), so one
spelling means the same thing in every file.

``tailor check`` reports ``path:line:col``; PyYAML's plain dicts forget positions,
so mappings and sequences are built as :class:`MarkedDict` / :class:`MarkedList`
carrying 1-based ``(line, col)`` marks.

The loader also resolves booleans the YAML 1.2 way (only ``true``/``false``):
under YAML 1.1 rules the trigger key ``on:`` would silently become ``True``, and
``in_stock: no`` would mean one thing in a recommendation filter and another in a rule.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tailor.problems import Problem, yaml_error_message

Mark = tuple[int, int]


def _mark(node: yaml.Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column + 1


class MarkedDict(dict):
    """A mapping with the position of itself, each key and each value."""

    mark: Mark = (0, 0)

    def __init__(self) -> None:
        super().__init__()
        self.key_marks: dict[Any, Mark] = {}
        self.value_marks: dict[Any, Mark] = {}
        self.duplicates: list[tuple[Any, Mark]] = []

    def key_mark(self, key: Any) -> Mark:
        return self.key_marks.get(key, self.mark)

    def value_mark(self, key: Any) -> Mark:
        return self.value_marks.get(key, self.mark)


class MarkedList(list):
    """A sequence with the position of itself and each item."""

    mark: Mark = (0, 0)

    def __init__(self) -> None:
        super().__init__()
        self.item_marks: list[Mark] = []

    def item_mark(self, index: int) -> Mark:
        return self.item_marks[index] if index < len(self.item_marks) else self.mark


class MarkedLoader(yaml.SafeLoader):
    """SafeLoader building marked containers with YAML 1.2 booleans."""


# YAML 1.2 core schema booleans: drop the 1.1 resolver (yes/no/on/off) and add ours.
MarkedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
MarkedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_mapping(loader: MarkedLoader, node: yaml.MappingNode) -> MarkedDict:
    loader.flatten_mapping(node)
    result = MarkedDict()
    result.mark = _mark(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark
            ) from None
        if key in result:
            result.duplicates.append((key, _mark(key_node)))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_marks[key] = _mark(key_node)
        result.value_marks[key] = _mark(value_node)
    return result


def _construct_sequence(loader: MarkedLoader, node: yaml.SequenceNode) -> MarkedList:
    result = MarkedList()
    result.mark = _mark(node)
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_marks.append(_mark(item))
    return result


MarkedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
MarkedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_marked(text: str) -> Any:
    """Parse one YAML document into marked containers; raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=MarkedLoader)  # safe: a SafeLoader subclass


def error_mark(exc: yaml.YAMLError) -> Mark:
    """The 1-based position of a YAML error (``(0, 0)`` when unknown)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return 0, 0
    return mark.line + 1, mark.column + 1


def syntax_problem(path: str, exc: yaml.YAMLError, line_offset: int = 0, text: str = "") -> Problem:
    """A YAML syntax error at ``path:line:col`` in the marketer's words (indentation and tabs named as such;
    ``line_offset``: lines before ``text`` in the file)."""
    line, col = error_mark(exc)
    return Problem(path, line + line_offset if line else 0, col, yaml_error_message(exc, text))


def read_marked(path: Path) -> tuple[Any, list[Problem]]:
    """The marked document in ``path`` (None when empty), or None and why it could not be read."""
    name = str(path)
    text = ""
    try:
        text = Path(path).read_text(encoding="utf-8")
        return load_marked(text), []
    except OSError as exc:
        return None, [Problem(name, 0, 0, f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        return None, [Problem(name, 1, 1, f"not UTF-8 text: {exc.reason}")]
    except yaml.YAMLError as exc:
        return None, [syntax_problem(name, exc, text=text)]
