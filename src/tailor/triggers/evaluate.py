"""Evaluate triggers for one profile's events as of a send time.

An *episode* is the set of qualifying (``on``) events still pending: an ``unless``
event later in time removes the products it names from it (or everything, when it
names none), so an order for a different product leaves a cart abandoned. Events are
sorted by timestamp first, so late-arriving events are placed where they belong;
at equal timestamps ``unless`` events count as later (an order placed in the same
second converts the cart). Windows are half-open: an event exactly ``expires``
(or ``within``) before ``at`` no longer counts, and a trigger is due exactly
``after`` its latest qualifying event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tailor.triggers.items import enrich, make_item
from tailor.triggers.spec import TriggerSpec
from tailor.triggers.state import TriggerState, TriggerStates
from tailor.vocabulary.durations import format_duration
from tailor.vocabulary.products import event_products, product_id
from tailor.vocabulary.timeline import Row, Timeline, build_timeline
from tailor.vocabulary.times import to_utc


@dataclass
class _Pending:
    """One qualifying event and the products it still holds in the episode."""

    at: datetime
    event_id: str
    products: list[Mapping[str, Any]]
    #: True: ``products[]`` listed the whole cart; False: single products; None: the event
    #: named no product (any exit event ends it)
    snapshot: bool | None
    currency: Any


@dataclass(frozen=True)
class Fired:
    """A trigger that fired for an episode (recorded by the scan)."""

    trigger: str
    key: str
    #: None when a stored record's time is unreadable: it still marks its episode as fired,
    #: but cannot start a cooldown
    at: datetime | None


def evaluate_triggers(
    specs: Mapping[str, TriggerSpec],
    events: list[dict],
    at: datetime,
    *,
    catalog: Mapping[str, dict] | None = None,
    fired: Iterable[Any] | None = None,
    items_when_inactive: bool = True,
    timeline: Timeline | None = None,
) -> TriggerStates:
    """The state of every declared trigger for one profile as of ``at``.

    ``fired`` lists earlier firings (:class:`Fired`, ``(trigger, key, at)`` tuples
    or dicts with those keys): an episode whose key fired never fires again, and
    ``cooldown`` blocks any firing that soon after the previous one.
    ``items_when_inactive=False``: a state that is not active gets no ``items`` (the
    trigger scan, which reports the active ones only, skips building them: most of its
    cost); an active state's are the same either way. ``timeline``: the events'
    :class:`~tailor.vocabulary.timeline.Timeline` as of ``at`` when the caller has it.
    """
    at = to_utc(at)
    if at is None:
        raise ValueError("'at' must be a datetime")
    if timeline is None or timeline.at != at:
        timeline = build_timeline(events, at)
    history = _fired(fired)
    states = TriggerStates()
    for name, spec in specs.items():
        states[name] = _evaluate(spec, timeline, at, catalog, history.get(name, []), items_when_inactive)
    return states


def _fired(records: Iterable[Any] | None) -> dict[str, list[Fired]]:
    history: dict[str, list[Fired]] = {}
    for record in records or ():
        if isinstance(record, Fired):
            item = record
        elif isinstance(record, Mapping):
            item = Fired(str(record["trigger"]), str(record["key"]), to_utc(record.get("at") or record.get("fired_at")))
        else:
            trigger, key, moment = record
            item = Fired(str(trigger), str(key), to_utc(moment))
        history.setdefault(item.trigger, []).append(item)
    return history


def _evaluate(
    spec: TriggerSpec,
    timeline: Timeline,
    at: datetime,
    catalog: Mapping[str, dict] | None,
    history: list[Fired],
    items_when_inactive: bool = True,
) -> TriggerState:
    state = TriggerState(name=spec.name)
    horizon = spec.horizon
    pending, last_live, ended_by = _pending(spec, timeline, None if horizon is None else at - horizon)
    if not pending:
        if last_live is not None:
            state.reason = (
                f"expired: last {' / '.join(sorted(spec.on))} event at {_iso(last_live)}, "
                f"more than {_human(horizon)} ago"
            )
        elif ended_by:
            state.reason = f"ended by {ended_by}"
        else:
            state.reason = f"no {' / '.join(sorted(spec.on))} event"
        return state
    state.count = len(pending)
    state.since, state.last_event_at = pending[0].at, pending[-1].at
    state.due_at = state.last_event_at + spec.after
    state.key = _key(spec.name, pending[0].event_id)
    if items_when_inactive:
        state.items = _items(pending, catalog)
    if state.count < spec.min_count:
        window = f" within {_human(spec.within)}" if spec.within else ""
        state.reason = f"{state.count} of {spec.min_count} {' / '.join(sorted(spec.on))} events{window}"
        return state
    if at < state.due_at:
        state.reason = f"waiting: due at {_iso(state.due_at)} ({_human(spec.after)} after the last event)"
        return state
    for record in history:
        if record.key == state.key:
            state.reason = f"already fired for this episode at {_iso(record.at)}"
            return state
    if spec.cooldown is not None:
        recent = [r.at for r in history if r.at is not None and r.at <= at and at - r.at < spec.cooldown]
        if recent:
            state.reason = f"cooldown: fired at {_iso(max(recent))}, again after {_iso(max(recent) + spec.cooldown)}"
            return state
    state.active = True
    if not items_when_inactive:
        state.items = _items(pending, catalog)
    noun = "item" if len(state.items) == 1 else "items"
    state.reason = f"due since {_iso(state.due_at)}: {len(state.items)} {noun}, {state.count} events"
    return state


def _pending(
    spec: TriggerSpec, timeline: Timeline, cutoff: datetime | None
) -> tuple[list[_Pending], datetime | None, str | None]:
    """The episode's entries after ``cutoff`` (all without one), the time of its latest entry
    still holding something at any time (None when there is none), and the last exit that
    ended something (only looked for when nothing is pending and nothing holds anything).

    Bounded by the horizon: whether an entry is still pending depends only on the exits after
    it, so the entries after ``cutoff`` come out the same from the events after ``cutoff``
    alone. The older events only explain an empty episode ("expired", "ended by"); the
    latest entry still holding something is found walking back from the newest event and is
    usually close to it. Only when every entry ever made was ended is the whole history
    replayed, for the exit that ended the last of them.
    """
    if cutoff is None or spec.on & spec.unless:
        # (an event both qualifies and exits: it qualifies only when nothing is pending,
        # which depends on the events before it)
        episode, ended_by = _episode(spec, _ordered(spec, timeline.rows))
        pending = [p for p in episode if cutoff is None or p.at > cutoff]
        return pending, episode[-1].at if episode else None, ended_by
    recent, _ = _episode(spec, _ordered(spec, timeline.since(cutoff)))
    if recent:
        return recent, recent[-1].at, None
    last_live = _last_live(spec, timeline.rows)
    if last_live is not None:
        return [], last_live, None
    _, ended_by = _episode(spec, _ordered(spec, timeline.rows))
    return [], None, ended_by


def _ordered(spec: TriggerSpec, rows: list[Row]) -> list[Row]:
    """The rows the trigger reads (its ``on`` and ``unless`` events) in the order exits apply."""
    relevant = spec.on | spec.unless
    # At equal timestamps exits sort last, so they apply to what came "with" them.
    return sorted(
        (row for row in rows if row[2]["event"] in relevant),
        key=lambda row: (row[0], row[2]["event"] in spec.unless, row[1]),
    )


def _last_live(spec: TriggerSpec, rows: list[Row]) -> datetime | None:
    """The time of the latest qualifying event that the exits after it left holding something.

    Walks back from the newest of the timeline's rows (in time order), the exits of a
    timestamp before its qualifying events (forward, they apply after them): an entry
    naming no product is ended by any later exit; one naming products, by later exits
    naming all of them or by one naming none.
    """
    named: set[str | None] = set()
    exited = cleared = False
    entries: list[Row] = []  # the qualifying events of the timestamp being read
    for position in range(len(rows) - 1, -2, -1):
        moment = rows[position][0] if position >= 0 else None
        if entries and moment != entries[0][0]:  # every exit at their time is counted: judge them
            for _, _, event in entries:
                products, _ = event_products(event.get("properties") or {})
                if not products:
                    if not exited:
                        return entries[0][0]
                elif not cleared and any(product_id(p) not in named for p in products):
                    return entries[0][0]
            entries = []
        if position < 0:
            break
        event = rows[position][2]
        if event["event"] in spec.unless:
            ids = {product_id(p) for p in event_products(event.get("properties") or {})[0]}
            exited = True
            cleared = cleared or not ids
            named |= ids
        elif event["event"] in spec.on:
            entries.append(rows[position])
    return None


def _episode(spec: TriggerSpec, ordered: list[Row]) -> tuple[list[_Pending], str | None]:
    """Pending qualifying events after applying every exit, and the last exit seen.

    Linear in the events: an exit touches only the entries holding the products it names
    (found through an index by product id), so a long history of orders for other products
    costs one look-up each instead of a walk over every pending entry.
    """
    episode = _Episode()
    ended_by = None
    for moment, index, event in ordered:
        name = event["event"]
        properties = event.get("properties") or {}
        if name in spec.unless and episode.live:
            products, _ = event_products(properties)
            if episode.remove({product_id(p) for p in products}):
                ended_by = f"{name} at {_iso(moment)}"
        elif name in spec.on:
            products, snapshot = event_products(properties)
            event_id = str(event.get("messageId") or f"{name}@{moment.isoformat()}#{index}")
            episode.add(
                _Pending(moment, event_id, list(products), snapshot if products else None, properties.get("currency"))
            )
    return episode.pending(), ended_by


class _Episode:
    """The qualifying events of one trigger in time order, and which of them still hold something.

    An entry is *live* while it holds products, or named none and no exit came yet; entries
    only ever lose products, so a dead entry stays dead and is dropped once, at the end.
    """

    def __init__(self) -> None:
        self.entries: list[_Pending] = []
        #: product id -> the live entries that may hold it (stale ones are skipped)
        self.holding: dict[str | None, list[_Pending]] = {}
        #: entries that named no product: any exit ends them
        self.productless: list[_Pending] = []
        self.live = 0
        #: every entry before this index is dead (an exit naming no product ended them all)
        self.cleared = 0

    def add(self, entry: _Pending) -> None:
        self.entries.append(entry)
        self.live += 1
        if entry.snapshot is None:
            self.productless.append(entry)
        for product in entry.products:
            self.holding.setdefault(product_id(product), []).append(entry)

    def remove(self, ids: set[str | None]) -> bool:
        """Drop the named products (all of them when ``ids`` is empty); True if any went."""
        changed = bool(self.productless)
        for entry in self.productless:
            # A qualifying event without products: any exit ends it.
            entry.snapshot, entry.products = False, []
            self.live -= 1
        self.productless = []
        touched = self.entries[self.cleared :] if not ids else self._holding(ids)
        for entry in touched:
            kept = [p for p in entry.products if ids and product_id(p) not in ids]
            if len(kept) != len(entry.products):
                changed = True
                entry.products = kept
                if not kept:
                    self.live -= 1
        if not ids:
            self.holding, self.cleared = {}, len(self.entries)
        return changed

    def _holding(self, ids: set[str | None]) -> list[_Pending]:
        touched: dict[int, _Pending] = {}
        for pid in ids:
            for entry in self.holding.pop(pid, ()):
                touched.setdefault(id(entry), entry)
        return list(touched.values())

    def pending(self) -> list[_Pending]:
        return [p for p in self.entries if p.products or p.snapshot is None]


def _items(pending: list[_Pending], catalog: Mapping[str, dict] | None) -> list[dict[str, Any]]:
    """Products of the episode, most recent first, with quantities.

    Single-product events (Product Added) add their ``quantity``; a ``products[]``
    list (Checkout Started) is a snapshot of the cart and sets it.
    """
    items: dict[str, dict[str, Any]] = {}
    for entry in pending:
        for product in entry.products:
            pid = product_id(product)
            if pid is None:  # event_products keeps only products with an id
                continue
            fresh = make_item(product, entry.currency)
            item = items.pop(pid, None) or fresh
            for key, value in fresh.items():
                if value is not None and key != "quantity":
                    item[key] = value  # newer events carry the newer price
            quantity = _quantity(product.get("quantity"))
            if entry.snapshot:
                item["quantity"] = quantity or 1
            elif quantity:
                item["quantity"] += quantity
            else:
                item["quantity"] = max(item["quantity"], 1)
            items[pid] = item  # re-inserted: dict order = last activity
    return [enrich(item, catalog) for item in reversed(list(items.values()))]


def _quantity(value: Any) -> int:
    try:
        return max(int(float(value)), 0)
    except (TypeError, ValueError):
        return 0


def _key(name: str, first_event_id: str) -> str:
    return hashlib.sha256(f"{name}\0{first_event_id}".encode()).hexdigest()[:16]


def _iso(moment: datetime | None) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment else "?"


def _human(span: timedelta | None) -> str:
    return format_duration(span) if span else "0s"
