"""Producers of rendered-email records: a render, and today's batch output folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tailor.delivery.message import RenderedEmail
from tailor.email import Email


def from_render(email: Email, send_id: str, *, to: str | None = None) -> RenderedEmail:
    """The record of a render (``to`` overrides the recipient's own address: test sends)."""
    address = to or email.recipient_email
    if not address:
        raise ValueError("the recipient has no email address")
    return RenderedEmail(
        send_id=send_id,
        to=address,
        subject=email.subject,
        html=email.html,
        text=email.text,
        preheader=email.preheader,
        profile_id=email.recipient_id,
        template=email.template,
        marketing=not email.transactional,
    )


def from_batch_folder(out_dir: str | Path) -> Iterator[RenderedEmail]:
    """Records of a ``tailor batch --deliver`` output folder (manifest lines + ``<stem>.html``/``.txt``).

    The folder layout is today's batch output; shards of rendered emails
    (:func:`~tailor.delivery.message.read_rendered`) need no such reader.
    """
    out = Path(out_dir)
    with open(out / "manifest.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row: dict[str, Any] = json.loads(line)
            if row.get("status") != "rendered" or not row.get("to"):
                continue
            stem = row["recipient"]
            yield RenderedEmail.from_mapping(
                {
                    **row,
                    "html": (out / f"{stem}.html").read_text(encoding="utf-8"),
                    "text": (out / f"{stem}.txt").read_text(encoding="utf-8"),
                }
            )
