"""Exposures in the store: recorded at render (once per send), read back for the report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select

from tailor.store.models import Event, Exposure
from tailor.store.upsert import insert_ignore


def exposure_rows(experiments: dict[str, Any], profile_id: str, template: str, send_key: str) -> list[dict[str, Any]]:
    """One exposure per (experiment, recipient, send) of a rendered email's ``{experiment: {"variant": ...}}``.

    Repeated renders of a send carry the same ``send_key`` and count once when stored.
    """
    exposed_at = now_naive()
    return [
        {
            "experiment": name,
            "variant": info["variant"],
            "profile_id": profile_id,
            "send_key": send_key,
            "template": template,
            "exposed_at": exposed_at,
        }
        for name, info in experiments.items()
    ]


def insert_exposures(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Store exposures in the caller's transaction; a repeated ``(experiment, profile_id, send_key)`` is ignored."""
    if not rows:
        return 0
    table = Exposure.__table__
    return len(insert_ignore(conn, table, rows, ["experiment", "profile_id", "send_key"], returning=table.c.id))


def exposure_frame(store: Any, experiment: str) -> pd.DataFrame:
    """One row per recipient: variant and first exposure time (a recipient stays in one arm)."""
    table = Exposure.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.profile_id, table.c.variant, table.c.exposed_at).where(table.c.experiment == experiment)
        ).all()
    frame = pd.DataFrame(rows, columns=["profile_id", "variant", "exposed_at"])
    if frame.empty:
        return frame
    frame["exposed_at"] = pd.to_datetime(frame["exposed_at"])
    return frame.sort_values("exposed_at").groupby("profile_id", as_index=False).first()


def conversion_frame(store: Any, events: str | list[str], profile_ids: list[str]) -> pd.DataFrame:
    """Name and timestamp of each of ``events`` for these recipients."""
    names = [events] if isinstance(events, str) else list(events)
    table = Event.__table__
    found: list[Any] = []
    with store.engine.connect() as conn:
        for start in range(0, len(profile_ids), 500):
            chunk = profile_ids[start : start + 500]
            found += conn.execute(
                select(table.c.profile_id, table.c.event, table.c.timestamp).where(
                    table.c.event.in_(names), table.c.profile_id.in_(chunk)
                )
            ).all()
    frame = pd.DataFrame(found, columns=["profile_id", "event", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
