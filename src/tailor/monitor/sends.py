"""The sends log: one row per email rendered for a known recipient, written at render.

A row says what personalization chose — blocks and winning rules per slot, segments,
the recommendation provider, model version and the products shown, whether the
recipient was in the control group, the reasons of the fallbacks taken — and nothing
personal but the profile id. A repeated render of the
same send (Braze renders HTML and text separately, ESPs retry) writes nothing new:
``(profile_id, send_key)`` is unique, like experiment exposures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select

from tailor.experiments.assign import in_share
from tailor.store.models import Send
from tailor.store.upsert import insert_ignore

#: the "experiment" name the control group is hashed under (sticky per recipient)
CONTROL_GROUP = "tailor-control-group"


def in_control_group(profile_id: str | None, share: float) -> bool:
    """Whether this recipient is in the global control group (a sticky hash of the id)."""
    return in_share(CONTROL_GROUP, profile_id, share)


def send_row(
    *,
    profile_id: str,
    send_key: str,
    template: str,
    blocks: dict[str, str],
    rules: dict[str, str | None],
    segments: list[str],
    recs: dict[str, Any],
    control: bool,
    fallbacks: list[str] | None = None,
    sent_at: datetime | None = None,
) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    if recs:
        shown = {"provider": recs["provider"], "products": [str(p) for p in recs.get("products") or []]}
        if recs.get("version"):
            shown["version"] = recs["version"]
    moment = sent_at or datetime.now(UTC)
    return {
        "profile_id": profile_id,
        "send_key": send_key,
        "template": template,
        "sent_at": moment.astimezone(UTC).replace(tzinfo=None),
        "control": control,
        "blocks": dict(blocks),
        "rules": dict(rules),
        "segments": sorted(segments),
        "recs": shown,
        "fallbacks": sorted(set(fallbacks or [])),
    }


def send_row_of(email: Any, send_key: str, sent_at: datetime | None = None) -> dict[str, Any]:
    """The sends-log row of a rendered :class:`~tailor.email.Email` for a known recipient."""
    return send_row(
        profile_id=str(email.recipient_id),
        send_key=send_key,
        template=email.template,
        blocks=dict(email.blocks),
        rules={d.slot: d.rule_id for d in email.slot_decisions},
        segments=list(email.segments),
        recs=email.recommendations,
        control=email.control,
        fallbacks=[str(f.get("reason")) for f in email.fallbacks],
        sent_at=sent_at,
    )


def record_sends(store: Any, rows: list[dict[str, Any]], exposures: list[dict[str, Any]] | None = None) -> int:
    """Store send rows, and the same sends' experiment exposures, in one transaction (one commit
    per render or per campaign partition); a repeated ``(profile_id, send_key)`` is ignored.
    Returns the new send rows."""
    from tailor.experiments.exposures import insert_exposures

    if not rows and not exposures:
        return 0
    table = Send.__table__
    with store.engine.begin() as conn:
        insert_exposures(conn, exposures or [])
        inserted = insert_ignore(conn, table, rows, ["profile_id", "send_key"], returning=table.c.id) if rows else []
    return len(inserted)


def sends_frame(store: Any, since: datetime, until: datetime) -> pd.DataFrame:
    """The sends of ``[since, until)``, oldest first; ``sent_at`` as aware UTC."""
    table = Send.__table__
    columns = [c.name for c in table.columns if c.name != "id"]
    naive = [t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t for t in (since, until)]
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(*(table.c[c] for c in columns))
            .where(table.c.sent_at >= naive[0], table.c.sent_at < naive[1])
            .order_by(table.c.sent_at, table.c.id)
        ).all()
    frame = pd.DataFrame(rows, columns=columns)
    frame["sent_at"] = pd.to_datetime(frame["sent_at"], utc=True)
    return frame
