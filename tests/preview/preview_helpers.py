"""Helpers of the preview browser tests (a module name unique in the suite, importable from the tests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from live_server import LiveServer  # noqa: F401 - used by the preview tests

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-11-23T12:00:00Z"
CHROMIUM = os.environ.get("TAILOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip with a visible reason when a browser piece is missing; in CI that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def screenshot(page: Any, name: str, **kwargs: Any) -> Path:
    """Save a screenshot of the current view as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **kwargs)
    return path


def make_app(shop: Path, recommender: Any, **config: Any) -> Any:
    from tailor import Tailor
    from tailor.config import Settings
    from tailor.web import create_app

    settings = Settings(templates=shop / "templates", rules=shop / "rules", database_url="")
    tailor = Tailor(shop / "templates", shop / "rules", None, settings=settings, recommender=recommender)
    app = create_app(settings, tailor=tailor)
    app.config.update({"TAILOR_PERSONAS": str(shop / "personas"), "TAILOR_PREVIEW_AT": AT, **config})
    return app
