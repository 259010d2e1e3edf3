"""Email addresses in the QA UI are masked by default: previews get screenshotted and shared."""

from __future__ import annotations

import re
from typing import Any

# the local part must start a word not inside a URL path ("logo@2x.png") and the domain needs a
# dot and an alphabetic top-level domain, so CSS like "}@media" is left alone too
_EMAIL = re.compile(r"(?<![\w.+%/-])([\w+%-])([\w.+%-]*)@((?:[\w-]+\.)+[A-Za-z]{2,})(?![\w-])")


def mask_emails(text: str) -> str:
    """Every email address in ``text`` masked: ``ann@example.com`` → ``a***@example.com``."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(3)}", text)


def mask_data(value: Any) -> Any:
    """``value`` (JSON-like) with every email address in its strings masked."""
    if isinstance(value, str):
        return mask_emails(value)
    if isinstance(value, dict):
        return {k: mask_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(v) for v in value]
    return value
