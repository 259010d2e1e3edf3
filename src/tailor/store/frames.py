"""Whole-store reads as pandas DataFrames (recommenders, batch features, trigger scans)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, select

from tailor.vocabulary.products import event_product_ids

from .models import Event

events_t = Event.__table__

#: profile ids per ``IN (...)`` query
ID_CHUNK = 500
#: Segment e-commerce events that are about products
PRODUCT_EVENTS = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")


def interactions(conn: Connection) -> pd.DataFrame:
    """``user_id`` (profile id), ``product_id``, ``event``, ``timestamp`` (UTC): one row per product."""
    query = (
        select(events_t.c.profile_id, events_t.c.event, events_t.c.timestamp, events_t.c.properties)
        .where(events_t.c.type == "track", events_t.c.event.in_(PRODUCT_EVENTS))
        .order_by(events_t.c.timestamp, events_t.c.id)
    )
    rows = [
        (pid, product, event, ts)
        for pid, event, ts, props in conn.execute(query)
        for product in event_product_ids(props or {})
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "product_id", "event", "timestamp"])
    frame["timestamp"] = _utc(frame["timestamp"])
    return frame


def events_frame(
    conn: Connection, since: datetime | None = None, profile_ids: Collection[str] | None = None
) -> pd.DataFrame:
    """``profile_id``, ``type``, ``event``, ``timestamp`` (UTC), ``properties``, ``message_id``, oldest first.

    ``profile_ids``: only these profiles' events (read a chunk of ids per query, by the
    ``(profile_id, timestamp)`` index), e.g. the profiles an incremental trigger scan looks at.
    """
    query = select(
        events_t.c.profile_id,
        events_t.c.type,
        events_t.c.event,
        events_t.c.timestamp,
        events_t.c.properties,
        events_t.c.message_id,
    ).order_by(events_t.c.timestamp, events_t.c.id)
    if since is not None:
        if since.tzinfo is not None:
            since = pd.Timestamp(since).tz_convert("UTC").tz_localize(None).to_pydatetime()
        query = query.where(events_t.c.timestamp >= since)
    if profile_ids is None:
        rows = conn.execute(query).all()
    else:
        ids = sorted(profile_ids)
        rows = [
            row
            for start in range(0, len(ids), ID_CHUNK)
            for row in conn.execute(query.where(events_t.c.profile_id.in_(ids[start : start + ID_CHUNK])))
        ]
    frame = pd.DataFrame(rows, columns=["profile_id", "type", "event", "timestamp", "properties", "message_id"])
    frame["timestamp"] = _utc(frame["timestamp"])
    frame["properties"] = frame["properties"].map(lambda p: p or {})
    if profile_ids is not None:  # chunks are each in order; one profile is never split across them
        frame = frame.sort_values("timestamp", kind="stable", ignore_index=True)
    return frame


def _utc(column: pd.Series) -> pd.Series:
    return (
        pd.to_datetime(column, utc=True, format="mixed") if len(column) else pd.Series([], dtype="datetime64[ns, UTC]")
    )
