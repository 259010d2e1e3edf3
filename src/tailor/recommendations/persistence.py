"""Versioned model artifacts on disk.

Layout: ``<directory>/<version>/models.joblib`` + ``manifest.json``, where
``<version>`` is a sortable UTC timestamp. A version is written to a temporary
folder and renamed into place, so readers never see a half-written one.

Artifacts are pickles (joblib): loading one runs code from it. Only load artifacts
tailor itself wrote into a directory you control — they are trusted files, never
user uploads.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Recommender

MODELS_FILE = "models.joblib"
MANIFEST_FILE = "manifest.json"


def _new_version(directory: Path) -> str:
    base = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    version, i = base, 1
    while (directory / version).exists():  # two saves in the same microsecond
        version, i = f"{base}-{i}", i + 1
    return version


def save_models(
    models: Mapping[str, Recommender],
    directory: str | os.PathLike[str],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``models`` as a new version under ``directory``; returns the version's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    version = _new_version(directory)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory))
    try:
        import joblib  # imported when artifacts are written or read: joblib and the models are heavy

        joblib.dump(dict(models), tmp / MODELS_FILE, compress=3)
        manifest = {
            "version": version,
            "created_at": datetime.now(UTC).isoformat(),
            "models": {
                name: {
                    "class": type(m).__name__,
                    "items": int(len(getattr(m, "items_", ()))),
                    "params": {k: repr(v) for k, v in m.get_params(deep=False).items()},
                }
                for name, m in models.items()
            },
            **dict(metadata or {}),
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
        final = directory / version
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def list_versions(directory: str | os.PathLike[str]) -> list[Path]:
    """Complete versions, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_FILE).is_file() and (p / MODELS_FILE).is_file()
    )


def load_version(path: str | os.PathLike[str]) -> dict[str, Recommender]:
    """Load one version folder (trusted files only, see the module docstring)."""
    import joblib

    models = joblib.load(Path(path) / MODELS_FILE)
    if not isinstance(models, dict):
        raise ValueError(f"{path}: not a tailor model artifact")
    return models


def load_latest(directory: str | os.PathLike[str]) -> dict[str, Recommender] | None:
    """The newest saved models, or ``None`` when nothing was trained yet."""
    versions = list_versions(directory)
    return load_version(versions[-1]) if versions else None


def prune(
    directory: str | os.PathLike[str],
    keep: int = 5,
    *,
    protect: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> list[Path]:
    """Delete all but the ``keep`` newest versions; returns what was removed.

    ``protect`` names versions kept whatever their age (the champion, the challenger,
    earlier champions to roll back to); ``remove`` names versions deleted whatever
    their age (trained before an erasure). ``remove`` wins.
    """
    versions = list_versions(directory)
    protected, doomed = set(protect), set(remove)
    newest = {p.name for p in (versions[-keep:] if keep > 0 else [])}
    removed = [p for p in versions if p.name in doomed or (p.name not in newest and p.name not in protected)]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
