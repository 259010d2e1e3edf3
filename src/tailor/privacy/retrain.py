"""The "retrain needed" marker: trained recommendation artifacts may include an erased person.

The marker is ``<artifacts>/retrain_needed.json`` (no personal data: times and a count).
``tailor recs train`` may clear it with :func:`clear_retrain_flag` once a new version
is trained from the store as it is now.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tailor.vocabulary.times import parse_iso

MARKER = "retrain_needed.json"


def _trained_versions(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file()
    )


def _version_created(path: Path) -> str | None:
    try:
        created = json.loads((path / "manifest.json").read_text(encoding="utf-8")).get("created_at")
    except (OSError, ValueError):
        return None
    return str(created) if created else None


def flag_retrain(artifacts: str | os.PathLike[str], erased_at: str, first_event_at: str | None = None) -> bool:
    """Write/extend the marker if a trained version may include the erased person's events; True if flagged.

    A version created before the person's first event cannot include them; when that
    cannot be told (no manifest time), the version is assumed to include them.
    """
    directory = Path(artifacts)
    versions = _trained_versions(directory)
    affected = []
    for version in versions:
        created = _version_created(version)
        if first_event_at is None or created is None or _utc(created) >= _utc(first_event_at):
            affected.append(version.name)
    if not affected:
        return False
    current = retrain_needed(directory) or {}
    marker = {
        "retrain_needed": True,
        "reason": "erasure",
        "since": current.get("since") or erased_at,
        "last_erasure_at": erased_at,
        "erasures": int(current.get("erasures", 0)) + 1,
        "versions": sorted(set(current.get("versions", [])) | set(affected)),
    }
    fd, tmp = tempfile.mkstemp(prefix=".retrain-", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(marker, fh, indent=2)
    os.replace(tmp, directory / MARKER)
    return True


def retrain_needed(artifacts: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The marker's content, or None when no retraining is pending."""
    path = Path(artifacts) / MARKER
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return {"retrain_needed": True, "reason": "unreadable marker"}


def clear_retrain_flag(artifacts: str | os.PathLike[str]) -> bool:
    """Remove the marker (after a retrain); True if there was one."""
    try:
        (Path(artifacts) / MARKER).unlink()
        return True
    except FileNotFoundError:
        return False


def _utc(value: str) -> str:
    """A sortable UTC form of an ISO time with ``Z`` or ``+00:00``."""
    return parse_iso(value).strftime("%Y-%m-%dT%H:%M:%S.%f")
