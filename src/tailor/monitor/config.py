"""``monitor:`` in ``rules/*.yaml``: how outcomes are attributed and when drift alerts.

::

    monitor:
      outcomes:
        control_share: 0.05     # recipients kept out of personalization, to measure its lift
        within: 7d              # a conversion or click counts for the last send before it, this close
        conversion: Order Completed
      drift:
        window: 7d              # the recent window
        reference: 28d          # compared with the 28 days before it
        false_alarm_rate: 0.01  # share of reports on unchanged data allowed to alert
        min_ks: 0.1             # numeric features: smallest KS distance worth an alert
        min_psi: 0.1            # shares: smallest population stability index
        min_volume_change: 0.5  # event rates: smallest relative change (±50%)
        min_rate_change: 0.5    # segment, fallback and engagement rates: smallest relative change
        min_samples: 30
        webhook: https://ops.example.com/hooks/tailor   # alerts are POSTed here, signed

Every key is optional; a mistake is a :class:`~tailor.problems.Problem` at its ``path:line:col``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailor.monitor.drift import DriftThresholds
from tailor.problems import Problem
from tailor.vocabulary.durations import NotADuration, parse_duration
from tailor.yamlmarks import MarkedDict

if TYPE_CHECKING:
    from tailor.rules.loader import RuleFile


@dataclass(frozen=True)
class OutcomeSettings:
    """How sends are credited with what followed them (:mod:`tailor.monitor.outcomes`)."""

    #: share of recipients (a sticky hash of their id) rendered without personalization
    control_share: float = 0.0
    #: an event counts for the last send to the same person at most this long before it
    within: timedelta = timedelta(days=7)
    #: the events that are conversions (their ``revenue``/``total`` is the revenue)
    conversion: tuple[str, ...] = ("Order Completed",)


@dataclass(frozen=True)
class MonitorSettings:
    outcomes: OutcomeSettings = field(default_factory=OutcomeSettings)
    drift: DriftThresholds = field(default_factory=DriftThresholds)


def load_monitor(rules_dir: Path) -> tuple[MonitorSettings, list[Problem]]:
    """The ``monitor:`` section of the rule files in ``rules_dir`` (for commands without a workspace)."""
    from tailor.rules.loader import read_rule_files, rule_files

    return monitor_from(read_rule_files(rule_files(Path(rules_dir))) if Path(rules_dir).is_dir() else [])


def monitor_from(files: Iterable[RuleFile]) -> tuple[MonitorSettings, list[Problem]]:
    """The ``monitor:`` section of rule files already read (defaults when there is none).

    Unreadable files are skipped: the rules loader reports them with their position.
    """
    problems: list[Problem] = []
    found = [(f.path, f.data) for f in files if isinstance(f.data, MarkedDict) and "monitor" in f.data]
    for name, again in found[1:]:
        problems.append(Problem(name, *again.key_mark("monitor"), f"monitor: already set in {found[0][0]}"))
    if not found:
        return MonitorSettings(), problems
    path, data = found[0]
    section = data["monitor"]
    if not isinstance(section, MarkedDict):
        return MonitorSettings(), [*problems, Problem(path, *data.value_mark("monitor"), "monitor: must be a mapping")]
    parts: dict[str, Any] = {}
    for key in section:
        if key not in ("outcomes", "drift"):
            message = f"monitor: unknown key {key!r} (known: outcomes, drift)"
            problems.append(Problem(path, *section.key_mark(key), message))
    readers: dict[str, tuple[Any, Reader]] = {
        "outcomes": (OutcomeSettings(), _outcome_value),
        "drift": (DriftThresholds(), _drift_value),
    }
    for key, (default, reader) in readers.items():
        if key in section:
            parts[key] = _parse(path, f"monitor: {key}", section, key, default, reader, problems)
    return MonitorSettings(**parts), problems


def load_thresholds(rules_dir: Path) -> tuple[DriftThresholds, list[Problem]]:
    """Just the drift thresholds (``monitor: drift:``)."""
    settings, problems = load_monitor(rules_dir)
    return settings.drift, problems


Reader = Callable[[str, Any], Any]


def _parse(
    path: str, where: str, parent: MarkedDict, key: str, default: Any, read: Reader, problems: list[Problem]
) -> Any:
    section = parent[key]
    if not isinstance(section, MarkedDict):
        problems.append(Problem(path, *parent.value_mark(key), f"{where}: must be a mapping"))
        return default
    known = [f.name for f in fields(default)]
    values: dict[str, Any] = {}
    for name, value in section.items():
        if name not in known:
            message = f"{where}: unknown key {name!r} (known: {', '.join(known)})"
            problems.append(Problem(path, *section.key_mark(name), message))
            continue
        try:
            values[name] = read(name, value)
        except ValueError as exc:
            problems.append(Problem(path, *section.value_mark(name), f"{where}: {name}: {exc}"))
    return replace(default, **values)


def _duration(value: Any) -> timedelta:
    try:
        return parse_duration(str(value))
    except NotADuration as exc:
        raise ValueError(str(exc)) from None


def _number(value: Any, *, below_one: bool = False, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not zero):
        raise ValueError(f"{value!r} must be a positive number")
    if below_one and value >= 1:
        raise ValueError(f"{value!r} must be below 1")
    return float(value)


def _drift_value(name: str, value: Any) -> Any:
    if name in ("window", "reference"):
        return _duration(value)
    if name == "min_samples":
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"{value!r} must be a whole number of at least 2")
        return value
    if name == "webhook":
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must be an http(s) URL")
        return value
    return _number(value, below_one=name in ("false_alarm_rate", "min_ks"))


def _outcome_value(name: str, value: Any) -> Any:
    if name == "within":
        return _duration(value)
    if name == "control_share":
        return _number(value, below_one=True, zero=True)
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{value!r} must be an event name or a list of them")
    return tuple(names)
