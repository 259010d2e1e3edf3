"""``monitor:`` in ``rules/*.yaml``: when a drift report raises an alert.

::

    monitor:
      window: 7d              # the recent window
      reference: 28d          # compared with the 28 days before it
      false_alarm_rate: 0.01  # share of reports on unchanged data allowed to alert
      min_ks: 0.1             # numeric features: smallest KS distance worth an alert
      min_psi: 0.1            # shares: smallest population stability index
      min_volume_change: 0.5  # event rates: smallest relative change (±50%)
      min_samples: 30
      webhook: https://ops.example.com/hooks/tailor   # alerts are POSTed here, signed

Every key is optional; a mistake is a :class:`~tailor.problems.Problem` at its ``path:line:col``.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import yaml

from tailor.monitor.drift import DriftThresholds
from tailor.problems import Problem
from tailor.rules.loader import rule_files
from tailor.rules.yamlmarks import MarkedDict, load_marked
from tailor.triggers.durations import parse_duration

_DURATIONS = ("window", "reference")
_FRACTIONS = ("false_alarm_rate", "min_ks")
_POSITIVE = ("min_psi", "min_volume_change")


def load_thresholds(rules_dir: Path) -> tuple[DriftThresholds, list[Problem]]:
    """The ``monitor:`` section of the rule files (defaults when there is none)."""
    thresholds = DriftThresholds()
    problems: list[Problem] = []
    found: list[tuple[str, MarkedDict]] = []
    for path in rule_files(Path(rules_dir)) if Path(rules_dir).is_dir() else []:
        try:
            data = load_marked(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # `tailor check` reports unreadable rule files with their position
        if isinstance(data, MarkedDict) and "monitor" in data:
            found.append((str(path), data))
    for name, again in found[1:]:
        problems.append(Problem(name, *again.key_mark("monitor"), f"monitor: already set in {found[0][0]}"))
    if found:
        thresholds, problems_here = _parse(*found[0])
        problems += problems_here
    return thresholds, problems


def _parse(path: str, data: MarkedDict) -> tuple[DriftThresholds, list[Problem]]:
    section = data["monitor"]
    if not isinstance(section, MarkedDict):
        return DriftThresholds(), [Problem(path, *data.value_mark("monitor"), "monitor: must be a mapping")]
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    known = [f.name for f in fields(DriftThresholds)]
    for key, value in section.items():
        where = section.value_mark(key)

        def bad(message: str, key: Any = key, where: tuple[int, int] = where) -> None:
            problems.append(Problem(path, *where, f"monitor: {key}: {message}"))

        if key not in known:
            problems.append(
                Problem(path, *section.key_mark(key), f"monitor: unknown key {key!r} (known: {', '.join(known)})")
            )
        elif key in _DURATIONS:
            try:
                values[key] = parse_duration(str(value))
            except ValueError:
                bad(f"{value!r} is not a duration; use one such as 7d, 36h or 2w")
        elif key == "min_samples":
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                bad(f"{value!r} must be a whole number of at least 2")
            else:
                values[key] = value
        elif key == "webhook":
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                bad(f"{value!r} must be an http(s) URL")
            else:
                values[key] = value
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            bad(f"{value!r} must be a positive number")
        elif key in _FRACTIONS and value >= 1:
            bad(f"{value!r} must be below 1")
        else:
            assert key in _FRACTIONS + _POSITIVE
            values[key] = float(value)
    return replace(DriftThresholds(), **values), problems
