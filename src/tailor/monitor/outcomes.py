"""Outcomes of personalization: which templates, blocks, rules, segments and recommenders work.

Every send is in the sends log (:mod:`tailor.monitor.sends`) with what personalization
chose for it. This module credits what followed:

Attribution (last touch)
    An event counts for the **last send to the same person at or before it**, when that
    send is at most ``within`` older (``monitor: outcomes: within``, default 7 days).
    Conversions are the ``conversion`` events (default ``Order Completed``), with their
    order value as revenue; clicks and opens are the ESP's ``Email Link Clicked`` and
    ``Email Opened`` (ESP webhooks). A send is *clicked* or *converted* when at least one
    such event is credited to it, so rates are per send and lie in [0, 1].

Only settled sends count
    A send whose window has not closed yet (sent less than ``within`` before ``at``)
    could still convert; counting it would bias every rate down for whatever was sent
    last. Such sends are reported as ``pending`` and left out of the rates.

Rows
    One row per template, per slot block (``hero: hero/vip``), per winning rule
    (``hero: vip-hero``, ``hero: (default)``), per segment and per recommender (the
    provider that filled the recommendations, with the trained version of a built-in
    model: ``hybrid@20261130T…Z``, so a champion and its challenger are two rows). A send
    counts in every row it belongs to. Rates carry 95% Wilson intervals, revenue per send
    a normal interval.

Lift
    With a control group (``monitor: outcomes: control_share``), a share of recipients
    is rendered without personalization. A row's lift compares its conversion rate with
    the control sends of the same templates, with the two-proportion comparison the
    experiments report uses (:func:`tailor.experiments.stats.compare`). Control sends
    appear only in the ``control`` row, never in the others. Rows are observational:
    rules pick their audience, so a block's lift mixes the block's effect with that of
    the people it was chosen for. Only an experiment, or the control group taken as a
    whole, measures an effect alone.

Recommendations
    Per recommender, the share of its sends after which a shown product was bought
    within the window, and the share with a click on a shown product's page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from tailor.features.definitions import order_value
from tailor.monitor.config import OutcomeSettings
from tailor.monitor.sends import sends_frame
from tailor.vocabulary.products import event_product_ids
from tailor.vocabulary.times import to_utc

#: the ESP events (tailor.esp.events.SEGMENT_NAMES)
CLICK_EVENT = "Email Link Clicked"
OPEN_EVENT = "Email Opened"
DIMENSIONS = ("control", "template", "block", "rule", "segment", "recommender")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """``hits`` of ``n`` with its 95% Wilson interval."""

    hits: int
    n: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.hits / self.n if self.n else math.nan

    @classmethod
    def of(cls, hits: int, n: int) -> Rate:
        from tailor.experiments.stats import wilson_interval

        if n == 0:
            return cls(hits, n, math.nan, math.nan)
        return cls(hits, n, *wilson_interval(hits, n))


@dataclass(frozen=True)
class OutcomeRow:
    dimension: str
    value: str
    sends: int
    opens: Rate
    clicks: Rate
    conversions: Rate
    revenue: float
    revenue_per_send: float
    revenue_low: float
    revenue_high: float
    #: relative difference of the conversion rate from the control group's (None: no control)
    lift: float | None = None
    diff_low: float = math.nan
    diff_high: float = math.nan
    p_value: float = math.nan
    #: recommenders only: sends after which a shown product was bought / clicked
    recs_purchases: Rate | None = None
    recs_clicks: Rate | None = None


@dataclass
class OutcomeReport:
    since: datetime
    until: datetime
    at: datetime
    within: timedelta
    conversion: tuple[str, ...]
    pending: int = 0
    rows: list[OutcomeRow] = field(default_factory=list)

    def rows_of(self, dimension: str) -> list[OutcomeRow]:
        return [r for r in self.rows if r.dimension == dimension]

    def row(self, dimension: str, value: str) -> OutcomeRow | None:
        return next((r for r in self.rows if r.dimension == dimension and r.value == value), None)

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, float):
                return value if math.isfinite(value) else None
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        rows = []
        for row in self.rows:
            item = plain(asdict(row))
            for name in ("opens", "clicks", "conversions", "recs_purchases", "recs_clicks"):
                rate = getattr(row, name)
                if rate is not None:
                    item[name]["rate"] = plain(rate.rate)
            rows.append(item)
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "at": self.at.isoformat(),
            "within_days": self.within.total_seconds() / 86400,
            "conversion": list(self.conversion),
            "pending": self.pending,
            "rows": rows,
        }

    def to_text(self) -> str:
        lines = [
            f"outcomes of sends {self.since:%Y-%m-%d} – {self.until:%Y-%m-%d} (UTC), "
            f"events credited to the last send within {_days(self.within)}; "
            f"{self.pending} sends still inside their window left out",
        ]
        width = max([32, *(len(r.value) + 2 for r in self.rows)])
        header = f"{'sends':>{width + 9}} {'click rate':>19} {'conversion':>19} {'rev/send':>9} {'lift':>16}"
        for dimension in DIMENSIONS:
            rows = self.rows_of(dimension)
            if not rows:
                continue
            lines += ["", f"{dimension}{header[len(dimension) :]}"]
            for row in rows:
                lift = "" if row.lift is None else f"{row.lift:+.0%} p={row.p_value:.2g}"
                lines.append(
                    f"  {row.value:<{width}} {row.sends:>6} {_rate(row.clicks):>19} {_rate(row.conversions):>19} "
                    f"{row.revenue_per_send:>9.2f} {lift:>16}".rstrip()
                )
        recommenders = [r for r in self.rows_of("recommender") if r.recs_purchases is not None]
        if recommenders:
            lines += ["", "recommendations: shown product bought / shown product clicked"]
            for row in recommenders:
                assert row.recs_purchases is not None and row.recs_clicks is not None
                lines.append(f"  {row.value:<{width}} {_rate(row.recs_purchases):>19} {_rate(row.recs_clicks):>19}")
        return "\n".join(lines)


def outcomes(
    sends: pd.DataFrame,
    events: pd.DataFrame,
    settings: OutcomeSettings,
    *,
    since: datetime,
    until: datetime,
    at: datetime,
    product_urls: Mapping[str, str] | None = None,
) -> OutcomeReport:
    """Credit ``events`` (profile_id, event, timestamp, properties) to ``sends`` and tabulate.

    Pure: the store-reading wrapper is :func:`report_from_store`.
    """
    report = OutcomeReport(since, until, at, settings.within, settings.conversion)
    if sends.empty:
        return report
    settled = sends["sent_at"] + settings.within <= pd.Timestamp(at)
    report.pending = int((~settled).sum())
    sends = sends[settled].reset_index(drop=True)
    if sends.empty:
        return report
    credited = credit(sends, events, settings, product_urls or {})
    control = credited[credited["control"]]
    treated = credited[~credited["control"]]
    if not control.empty:
        report.rows.append(_row("control", "control group", control, None))
    groups: list[tuple[str, str, pd.DataFrame]] = []
    groups += [("template", name, part) for name, part in treated.groupby("template", sort=True)]
    for dimension, column in (("block", "blocks"), ("rule", "rules")):
        labels = treated[column].map(lambda chosen: [f"{slot}: {v or '(default)'}" for slot, v in chosen.items()])
        groups += _exploded(dimension, treated, labels)
    groups += _exploded("segment", treated, treated["segments"].map(lambda s: list(s) or ["(none)"]))
    providers = treated["recs"].map(lambda r: [_recommender(r)] if r else [])
    groups += _exploded("recommender", treated, providers)
    for dimension, value, part in groups:
        report.rows.append(_row(dimension, value, part, control))
    return report


def report_from_store(
    store: Any,
    settings: OutcomeSettings,
    *,
    since: datetime,
    until: datetime,
    at: datetime,
) -> OutcomeReport:
    """Outcomes of the sends of ``[since, until)`` as known at ``at``."""
    since, until, at = to_utc(since), to_utc(until), to_utc(at)
    sends = sends_frame(store, since, until)
    events = outcome_events(store, sends, since, min(at, until + settings.within), settings)
    urls = {str(row["id"]): str(row.get("url") or "") for row in store.catalog()}
    return outcomes(sends, events, settings, since=since, until=until, at=at, product_urls=urls)


def outcome_events(
    store: Any, sends: pd.DataFrame, since: datetime, until: datetime, settings: OutcomeSettings
) -> pd.DataFrame:
    from sqlalchemy import select

    from tailor.store.models import Event

    columns = ["profile_id", "event", "timestamp", "properties"]
    if sends.empty:
        return pd.DataFrame(columns=columns)
    table = Event.__table__
    names = [*settings.conversion, CLICK_EVENT, OPEN_EVENT]
    naive = [t.replace(tzinfo=None) for t in (since, until)]
    ids = sorted(set(sends["profile_id"]))
    found: list[Any] = []
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            found += conn.execute(
                select(table.c.profile_id, table.c.event, table.c.timestamp, table.c.properties).where(
                    table.c.event.in_(names),
                    table.c.profile_id.in_(ids[start : start + 500]),
                    table.c.timestamp >= naive[0],
                    table.c.timestamp <= naive[1],
                )
            ).all()
    frame = pd.DataFrame(found, columns=columns)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def credit(
    sends: pd.DataFrame, events: pd.DataFrame, settings: OutcomeSettings, product_urls: Mapping[str, str]
) -> pd.DataFrame:
    """``sends`` with opened, clicked, converted, revenue, recs_bought, recs_clicked per send."""
    credited = sends.copy()
    credited["row"] = range(len(credited))
    for column in ("opened", "clicked", "converted", "recs_bought", "recs_clicked"):
        credited[column] = False
    credited["revenue"] = 0.0
    if events.empty:
        return credited
    left = events.sort_values("timestamp").reset_index(drop=True)
    right = credited[["profile_id", "sent_at", "row"]].sort_values("sent_at")
    matched = pd.merge_asof(
        left,
        right,
        left_on="timestamp",
        right_on="sent_at",
        by="profile_id",
        direction="backward",
        tolerance=pd.Timedelta(settings.within),
    ).dropna(subset=["row"])
    shown = credited["recs"].map(lambda r: set(r.get("products") or []) if r else set())
    for event, row, properties in zip(matched["event"], matched["row"].astype(int), matched["properties"], strict=True):
        properties = properties or {}
        if event == OPEN_EVENT:
            credited.at[row, "opened"] = True
        elif event == CLICK_EVENT:
            credited.at[row, "clicked"] = True
            if _clicked_product(properties.get("url"), shown[row], product_urls):
                credited.at[row, "recs_clicked"] = True
        if event in settings.conversion:
            credited.at[row, "converted"] = True
            credited.at[row, "revenue"] += order_value(properties)
            if shown[row].intersection(event_product_ids(properties)):
                credited.at[row, "recs_bought"] = True
    return credited


def _recommender(recs: Mapping[str, Any]) -> str:
    """``hybrid`` or, for a trained built-in model, ``hybrid@<version>``: a ramp compares versions."""
    return f"{recs['provider']}@{recs['version']}" if recs.get("version") else str(recs["provider"])


def _clicked_product(url: Any, shown: set[str], product_urls: Mapping[str, str]) -> bool:
    if not isinstance(url, str) or not shown:
        return False
    clicked = _page(url)
    return any(clicked == _page(product_urls.get(pid, "")) for pid in shown if product_urls.get(pid))


def _page(url: str) -> str:
    """A URL without its query and fragment (tailor adds UTM parameters to links)."""
    parts = urlsplit(url)
    return f"{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _exploded(dimension: str, frame: pd.DataFrame, labels: pd.Series) -> list[tuple[str, str, pd.DataFrame]]:
    long = frame.assign(label=labels).explode("label").dropna(subset=["label"])
    return [(dimension, str(value), part) for value, part in long.groupby("label", sort=True)]


def _row(dimension: str, value: str, part: pd.DataFrame, control: pd.DataFrame | None) -> OutcomeRow:
    from tailor.experiments.stats import compare

    n = len(part)
    revenue = part["revenue"].astype(float)
    mean = float(revenue.mean()) if n else math.nan
    half = Z95 * float(revenue.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    row = OutcomeRow(
        dimension,
        value,
        n,
        Rate.of(int(part["opened"].sum()), n),
        Rate.of(int(part["clicked"].sum()), n),
        Rate.of(int(part["converted"].sum()), n),
        float(revenue.sum()),
        mean,
        mean - half,
        mean + half,
    )
    if dimension == "recommender":
        row = replace(
            row,
            recs_purchases=Rate.of(int(part["recs_bought"].sum()), n),
            recs_clicks=Rate.of(int(part["recs_clicked"].sum()), n),
        )
    if control is not None and not control.empty:
        baseline = control[control["template"].isin(set(part["template"]))]
        if not baseline.empty:
            lift, low, high, p_value = compare(
                (int(baseline["converted"].sum()), len(baseline)), (int(part["converted"].sum()), n)
            )
            row = replace(row, lift=lift, diff_low=low, diff_high=high, p_value=p_value)
    return row


def _rate(rate: Rate) -> str:
    if not rate.n:
        return "–"
    return f"{rate.rate:6.1%} [{rate.low:.1%}–{rate.high:.1%}]"


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g} days" if days != 1 else "1 day"
