"""Features of many profiles at once, vectorized with pandas (the store's batch path).

Same definitions as :mod:`tailor.features.single` (``tests/rules`` checks that the
two agree); per-row Python only where the JSON properties have to be opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from tailor.features import definitions as d
from tailor.features.names import FEATURE_NAMES
from tailor.vocabulary.times import to_utc


def compute_features_frame(
    events_df: pd.DataFrame,
    at: datetime,
    *,
    catalog: Mapping[str, Mapping[str, Any]] | None = None,
    signups: Mapping[Any, Any] | pd.Series | None = None,
) -> pd.DataFrame:
    """One row per ``profile_id`` (columns ``profile_id`` + the feature names).

    ``events_df`` has columns ``profile_id, event, timestamp, properties`` (properties
    a dict per row); every profile in it gets a row, even with no usable events.
    ``signups`` maps profile_id to the ``created_at`` trait (for ``days_since_signup``).
    """
    at = to_utc(at)
    stamp = pd.Timestamp(at)
    ids = pd.Index(events_df["profile_id"].dropna().unique(), name="profile_id")
    df = events_df.loc[:, ["profile_id", "event", "timestamp", "properties"]].copy()
    df["ts"] = pd.to_datetime(df["timestamp"], utc=True, errors="coerce", format="ISO8601")
    seen = df[df["ts"].notna() & (df["ts"] <= stamp)].groupby("profile_id")["ts"].min().reindex(ids)
    df = df[df["ts"].notna() & (df["ts"] <= stamp) & df["event"].notna() & df["profile_id"].notna()]
    df["properties"] = [p if isinstance(p, Mapping) else {} for p in df["properties"]]

    def recent(frame: pd.DataFrame, days: int) -> pd.DataFrame:
        return frame[frame["ts"] > stamp - timedelta(days=days)]

    out = pd.DataFrame(index=ids)
    orders = df[df["event"] == d.ORDER].copy()
    orders["value"] = [d.order_value(p) for p in orders["properties"]]
    by_profile = orders.groupby("profile_id")
    last_order = by_profile["ts"].max().reindex(ids)
    out["days_since_purchase"] = (stamp - last_order).dt.days.astype("Int64")
    out["days_since_first_seen"] = (stamp - seen).dt.days.astype("Int64")
    signed_up = pd.to_datetime(
        pd.Series(signups if signups is not None else {}, dtype=object).reindex(ids),
        utc=True,
        errors="coerce",
        format="ISO8601",
    )
    signed_up = signed_up.where(signed_up <= stamp)
    out["days_since_signup"] = (stamp - signed_up).dt.days.astype("Int64")
    out["orders_total"] = by_profile.size().reindex(ids, fill_value=0).astype(int)
    out["orders_90d"] = (
        recent(orders, d.ORDERS_WINDOW_DAYS).groupby("profile_id").size().reindex(ids, fill_value=0).astype(int)
    )
    lifetime = by_profile["value"].sum().reindex(ids, fill_value=0.0)
    # Python's round(), as the one-profile path uses, so both agree to the cent.
    out["lifetime_value"] = lifetime.map(lambda v: round(float(v), 2))
    out["average_order_value"] = [
        round(value / count, 2) if count else 0.0
        for value, count in zip(out["lifetime_value"], out["orders_total"], strict=True)
    ]

    views = recent(df[df["event"] == d.VIEW], d.VIEWS_WINDOW_DAYS).copy()
    out["views_30d"] = views.groupby("profile_id").size().reindex(ids, fill_value=0).astype(int)
    views["category"] = [d.product_attributes(p, catalog)[0] for p in views["properties"]]
    counts = views.dropna(subset=["category"]).groupby(["profile_id", "category"]).size()
    by_category: dict[Any, dict[str, int]] = {pid: {} for pid in ids}
    for (pid, category), count in counts.items():
        by_category[pid][category] = int(count)
    out["views_by_category_30d"] = [dict(sorted(by_category[pid].items())) for pid in ids]

    out["favorite_category"], out["favorite_brand"] = _favorites(df, ids, recent, catalog)

    engaged = recent(df, d.ENGAGEMENT_WINDOW_DAYS)
    raw = (
        engaged["event"]
        .map(d.ENGAGEMENT_WEIGHTS)
        .astype("float64")  # an empty window maps to an empty *string* column under pandas 3
        .fillna(0)
        .groupby(engaged["profile_id"])
        .sum()
        .reindex(ids, fill_value=0)
    )
    out["engagement_score"] = raw.map(d.engagement_score)
    out["lifecycle_stage"] = [
        d.lifecycle_stage(None if pd.isna(days) else int(days)) for days in out["days_since_purchase"]
    ]
    return out.reset_index()[["profile_id", *FEATURE_NAMES]]


def _favorites(
    df: pd.DataFrame, ids: pd.Index, recent: Any, catalog: Mapping[str, Mapping[str, Any]] | None
) -> tuple[list, list]:
    scored = recent(df[df["event"].isin(list(d.AFFINITY_WEIGHTS))], d.AFFINITY_WINDOW_DAYS).copy()
    scored["product"] = [d.products_in(p) for p in scored["properties"]]
    scored = scored.explode("product").dropna(subset=["product"])
    attributes = [d.product_attributes(p, catalog) for p in scored["product"]]
    scored["category"] = [a[0] for a in attributes]
    scored["brand"] = [a[1] for a in attributes]
    scored["weight"] = scored["event"].map(d.AFFINITY_WEIGHTS)
    result = []
    for column in ("category", "brand"):
        scores = scored.dropna(subset=[column]).groupby(["profile_id", column])["weight"].sum().reset_index()
        # Highest score first; ties to the alphabetically first name, like favorite().
        scores = scores.sort_values(["profile_id", "weight", column], ascending=[True, False, True])
        best = scores.drop_duplicates("profile_id").set_index("profile_id")[column]
        result.append([best.get(pid) for pid in ids])
    return result[0], result[1]


def features_from_row(row: Mapping[str, Any] | pd.Series) -> dict[str, Any]:
    """A frame row as the dict :func:`compute_features` returns (NA -> None)."""
    features = {}
    for name in FEATURE_NAMES:
        value = row[name]
        if not isinstance(value, (dict, list)) and pd.isna(value):
            value = None
        elif hasattr(value, "item"):
            value = value.item()  # numpy scalar -> Python
        features[name] = value
    return features
