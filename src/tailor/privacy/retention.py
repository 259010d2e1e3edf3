"""Retention: how long each kind of event is kept, and the batched purge.

The policy is a small YAML file (``retention.yaml`` next to ``tailor.toml``, or the
file named by ``TAILOR_RETENTION`` / ``--policy``)::

    retention:
      default: 395d                 # anything not named below (13 months)
      page: 90d                     # a Segment message type: track, page, screen, identify, group, alias
      screen: 90d
      "Order Completed": 1095d      # a track event name (or "track:Order Completed")
      identify: forever             # never purged

Durations are written as everywhere in tailor (``90d``, ``36h``, ``8w``, ``1.5d``); ``forever`` (or null)
keeps those events. The most specific entry wins: event name, then type, then
``default``. Without a file, :data:`DEFAULTS` apply. A window is measured against the
event's own ``timestamp``.

The purge deletes in batches (default 5,000 rows), one short transaction each, so
ingestion and rendering are never held up behind one long delete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tailor.config import Settings
from tailor.store import Store
from tailor.store import privacy as store_privacy
from tailor.store.engine import write_transaction
from tailor.store.messages import TYPES
from tailor.store.times import iso, utcnow
from tailor.vocabulary.durations import NotADuration, format_duration, parse_window
from tailor.yamlmarks import load_marked

#: 13 months for everything unless configured otherwise
DEFAULTS: Mapping[str, Any] = {"default": "395d"}
ENV = "TAILOR_RETENTION"
DEFAULT_FILE = "retention.yaml"
BATCH_SIZE = 5000


class PolicyError(ValueError):
    """A retention policy tailor cannot use (the message names the file and entry)."""


@dataclass(frozen=True)
class RetentionPolicy:
    """Windows per ``default`` / message type / ``track:<event name>``; None keeps forever."""

    windows: Mapping[str, timedelta | None] = field(default_factory=dict)
    source: str = "built-in defaults"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "mapping") -> RetentionPolicy:
        if "retention" in data and isinstance(data["retention"], Mapping):
            data = data["retention"]
        windows: dict[str, timedelta | None] = {}
        for key, value in data.items():
            key = str(key).strip()
            if key != "default" and key not in TYPES and not key.startswith("track:"):
                key = "track:" + key  # a bare event name is a track event's name
            windows[key] = _duration(value, f"{source}: retention.{key}")
        windows.setdefault("default", _duration(DEFAULTS["default"], "defaults"))
        return cls(windows, source)

    def cutoffs(self, now: datetime) -> list[tuple[str, str | None, datetime]]:
        """``(type or "*", event name or None, cutoff)`` for every window that is not forever.

        Entries kept forever still take part (as a cutoff in the far past) so a more
        general window never purges them.
        """
        rules: list[tuple[str, str | None, datetime]] = []
        for key, window in sorted(self.windows.items()):
            cutoff = datetime(1, 1, 1) if window is None else now - window
            if key == "default":
                rules.append(("*", None, cutoff))
            elif key.startswith("track:"):
                rules.append(("track", key[len("track:") :], cutoff))
            else:
                rules.append((key, None, cutoff))
        return rules

    def describe(self) -> dict[str, str]:
        return {k: format_duration(v) for k, v in sorted(self.windows.items())}


def _duration(value: Any, where: str) -> timedelta | None:
    if value is None:  # an empty entry keeps forever, like ``forever``
        return None
    try:
        window = parse_window(value)
    except NotADuration as exc:
        raise PolicyError(f"{where}: {exc}, or forever") from None
    if window is not None and window <= timedelta(0):
        raise PolicyError(f"{where}: must be longer than nothing, got {value!r}")
    return window


def load_policy(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> RetentionPolicy:
    """The policy from ``path``, else ``settings.extra["retention"]``, else ``settings.retention_file``
    (``$TAILOR_RETENTION``), else ``./retention.yaml``, else the built-in defaults.

    Without ``settings``, they are loaded (``environ`` stands in for the process environment)."""
    if settings is None:
        settings = Settings.load(environ=environ)
    if path is None and isinstance(settings.extra.get("retention"), Mapping):
        return RetentionPolicy.from_mapping(settings.extra["retention"], "settings")
    if path is None:
        path = settings.retention_file or (DEFAULT_FILE if Path(DEFAULT_FILE).is_file() else None)
    if path is None:
        return RetentionPolicy.from_mapping(DEFAULTS, "built-in defaults")
    try:
        data = load_marked(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise PolicyError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("retention", data), Mapping):
        raise PolicyError(f"{path}: expected a `retention:` mapping of event type to duration")
    return RetentionPolicy.from_mapping(data, str(path))


def purge(
    store: Store,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    pause: float = 0.0,
) -> dict[str, Any]:
    """Delete events older than their window, ``batch_size`` rows per transaction; a report.

    ``dry_run`` only counts. ``pause`` seconds between batches leave room for other writers.
    """
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    now = now or utcnow()
    condition = store_privacy.expired_condition(policy.cutoffs(now))
    with store.engine.connect() as conn:
        expired = store_privacy.count_expired(conn, condition)
    report: dict[str, Any] = {
        "now": iso(now),
        "policy": policy.source,
        "windows": policy.describe(),
        "expired": expired,
        "dry_run": dry_run,
        "deleted": 0,
        "batches": 0,
    }
    if dry_run:
        return report
    while True:
        with write_transaction(store.engine) as conn:
            deleted = store_privacy.delete_expired_batch(conn, condition, batch_size)
        if not deleted:
            break
        report["deleted"] += deleted
        report["batches"] += 1
        if deleted < batch_size:
            break
        if pause:
            time.sleep(pause)
    return report
