"""Templates and static files of the preview UI, shared by the live studio and the static export."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

UI_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = UI_DIR / "templates"
STATIC_DIR = UI_DIR / "static"


@lru_cache(maxsize=1)
def ui_env() -> Environment:
    """The Jinja environment of the UI's own pages (not the marketers' sandbox)."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def stylesheet() -> str:
    return (STATIC_DIR / "preview.css").read_text(encoding="utf-8")
