"""The trigger scan: every recipient whose trigger is due as of ``at``, and notifying them.

Two stages, so the batch and the send-time answers cannot drift apart:

1. **Vectorized pre-filter** (pandas over ``Store.events_frame``): per trigger, the
   profiles with at least ``min_count`` qualifying events inside the trigger's window
   whose *first* such event is at least ``after`` old. This is a necessary condition
   of being due (exits can only remove events), so it never drops a due recipient.
2. **Exact confirmation** per candidate with :func:`evaluate_triggers` — the same
   function a render uses — over the candidate's track events and its recorded
   firings (``trigger_state``: the same key never fires twice, ``cooldown``).

:func:`notify` delivers the due recipients through the outbox in ``trigger_state``
(see ``docs/rules.md``, "Trigger scan"): claim (unique per profile, trigger and
episode key) → leased delivery → acknowledged. A claimed row the receiver never
acknowledged is delivered again by the next scan with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pandas as pd

from tailor.outbound import DEFAULT_MAX_BYTES
from tailor.triggers.evaluate import Fired, evaluate_triggers
from tailor.triggers.spec import TriggerSpec
from tailor.vocabulary.times import to_utc

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: how long a scan owns a claimed notification before another scan may deliver it
DEFAULT_LEASE = timedelta(minutes=5)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# -- finding who is due ---------------------------------------------------------------


def candidates(events: pd.DataFrame, specs: Mapping[str, TriggerSpec], at: datetime) -> dict[str, set[str]]:
    """``{trigger: {profile_id}}`` that *may* be due: a superset of the due ones.

    ``events`` has at least ``profile_id, type, event, timestamp`` (UTC).
    """
    stamp = pd.Timestamp(to_utc(at))
    tracks = events[(events["type"] == "track") & (events["timestamp"] <= stamp)]
    found: dict[str, set[str]] = {}
    for name, spec in specs.items():
        on = tracks[tracks["event"].isin(list(spec.on))]
        if spec.horizon is not None:
            on = on[on["timestamp"] > stamp - spec.horizon]
        grouped = on.groupby("profile_id")["timestamp"].agg(["size", "min"])
        # due needs >= min_count pending events, and the latest pending one (so at
        # least the first in the window) to be `after` old
        keep = grouped[(grouped["size"] >= spec.min_count) & (grouped["min"] + spec.after <= stamp)]
        found[name] = set(keep.index)
    return found


def _records(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Track events per profile as the profile document lists them (oldest first)."""
    frame = frame.sort_values(["timestamp"], kind="stable")
    stamps = frame["timestamp"].dt.to_pydatetime()
    per: dict[str, list[dict[str, Any]]] = {}
    for pid, name, moment, props, mid in zip(
        frame["profile_id"], frame["event"], stamps, frame["properties"], frame["message_id"], strict=True
    ):
        per.setdefault(pid, []).append(
            {"type": "track", "event": name, "timestamp": moment, "properties": props or {}, "messageId": mid}
        )
    return per


def payload(profile_id: str, state: Any, at: datetime) -> dict[str, Any]:
    """One due recipient: the scan's JSON line and the notification body."""
    return {
        "profile_id": profile_id,
        "trigger": state.name,
        "key": state.key,
        "since": _iso(state.since),
        "due_at": _iso(state.due_at),
        "at": _iso(to_utc(at)),
        "items": [dict(i) for i in state.items],
    }


def history_by_profile(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Fired]]:
    """``Store.trigger_history()`` rows as ``fired=`` lists per profile."""
    per: dict[str, list[Fired]] = {}
    for row in rows:
        per.setdefault(row["profile_id"], []).append(Fired(row["trigger"], row["key"], to_utc(row["fired_at"])))
    return per


def find_due(
    events: pd.DataFrame,
    specs: Mapping[str, TriggerSpec],
    at: datetime,
    *,
    catalog: Mapping[str, dict] | None = None,
    fired: Mapping[str, list[Fired]] | None = None,
    excluded: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Payloads of every due (profile, trigger), sorted by profile then trigger."""
    at = to_utc(at)
    excluded = set(excluded)
    maybe = candidates(events, specs, at)
    ids = set().union(*maybe.values()) - excluded if maybe else set()
    if not ids:
        return []
    names = set().union(*(spec.on | spec.unless for spec in specs.values()))
    stamp = pd.Timestamp(at)
    relevant = events[
        events["profile_id"].isin(ids)
        & (events["type"] == "track")
        & events["event"].isin(list(names))
        & (events["timestamp"] <= stamp)
    ]
    per_profile = _records(relevant)
    fired = fired or {}
    due = []
    for pid in sorted(ids):
        wanted = {name: specs[name] for name, members in maybe.items() if pid in members}
        states = evaluate_triggers(
            wanted, per_profile.get(pid, []), at, catalog=catalog, fired=fired.get(pid, ()), items_when_inactive=False
        )
        due += [payload(pid, state, at) for name, state in sorted(states.items()) if state.active]
    return due


def window_start(specs: Mapping[str, TriggerSpec], at: datetime) -> datetime | None:
    """The oldest event any trigger can still count (None: a trigger without a window)."""
    horizons = [spec.horizon for spec in specs.values() if spec.horizon is not None]
    if not horizons or len(horizons) < len(specs):
        return None
    return to_utc(at) - max(horizons)


def scan(store: Any, specs: Mapping[str, TriggerSpec], at: datetime) -> list[dict[str, Any]]:
    """Every recipient of ``store`` whose trigger is due as of ``at`` (consenting profiles only)."""
    at = to_utc(at)
    events = store.events_frame(since=window_start(specs, at))
    catalog = {row["id"]: row for row in store.catalog()}
    fired = history_by_profile(store.trigger_history())
    return find_due(events, specs, at, catalog=catalog, fired=fired, excluded=store.personalization_refused())


def specs_digest(specs: Mapping[str, TriggerSpec]) -> str:
    """A fingerprint of the trigger definitions: a cursor is only valid for the ones it scanned with."""
    text = json.dumps({name: spec.as_dict() for name, spec in specs.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def incremental_scan(
    store: Any, specs: Mapping[str, TriggerSpec], at: datetime, *, cursor: str | None = None
) -> list[dict[str, Any]]:
    """:func:`scan`'s answer, reading only what changed since the last scan with this ``cursor``.

    A profile can only become due, or stop being due, when something about it changes;
    the candidates are the profiles with events stored since the cursor, those whose
    timer ran out since the last scan (a qualifying event whose ``after`` elapsed in
    between, a ``cooldown`` that ended), and those the last scan reported due (still
    due unless re-checking says otherwise, e.g. a notification claimed them). Each is
    checked exactly as :func:`scan` checks it, so the answer is the same. A first scan,
    other trigger definitions or an ``at`` before the last one read everything. Each set
    of definitions has its own cursor (named by their digest unless ``cursor`` is given).
    Not seen: a consent changed through the API without an event (see docs/rules.md).
    """
    from tailor.store import scan_cursor

    at = to_utc(at)
    naive_at = at.replace(tzinfo=None)
    digest = specs_digest(specs)
    cursor = cursor or digest
    with store.engine.connect() as conn:
        last = scan_cursor.read(conn, cursor)
        newest = scan_cursor.last_event_id(conn)
        full = last is None or last.specs_digest != digest or naive_at < last.scanned_at
        if not full:
            ids = scan_cursor.profiles_with_new_events(conn, last.last_event_id, newest) | set(last.due)
            for spec in specs.values():
                ids |= scan_cursor.profiles_with_events_between(
                    conn, spec.on, last.scanned_at - spec.after, naive_at - spec.after
                )
                if spec.cooldown is not None:
                    ids |= scan_cursor.profiles_fired_between(
                        conn, spec.name, last.scanned_at - spec.cooldown, naive_at - spec.cooldown
                    )
            events = store.events_frame(since=window_start(specs, at), profile_ids=ids)
            fired = history_by_profile(_aware(scan_cursor.history_of(conn, ids)))
            excluded = scan_cursor.refused_among(conn, ids)
    if full:
        due = scan(store, specs, at)
    else:
        catalog = {row["id"]: row for row in store.catalog()}
        due = find_due(events, specs, at, catalog=catalog, fired=fired, excluded=excluded)
    with store.engine.begin() as conn:
        scan_cursor.save(conn, cursor, digest, newest, naive_at, sorted({item["profile_id"] for item in due}))
    return due


def settle_cursor(store: Any, specs: Mapping[str, TriggerSpec], *, cursor: str | None = None) -> None:
    """Every episode the last incremental scan reported is now claimed (:func:`notify` claims all
    of them before delivering): the next scan need not check them again.

    Call it after the claims, never before: a crash in between leaves them in the cursor,
    and the next scan re-checks them (finding them fired), so nothing due is lost.
    """
    from tailor.store import scan_cursor

    with store.engine.begin() as conn:
        scan_cursor.clear_due(conn, cursor or specs_digest(specs))


def _aware(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["fired_at"] = row["fired_at"].replace(tzinfo=UTC)
    return rows


# -- notifying, exactly once per episode -------------------------------------------------


@dataclass
class Delivery:
    """How to POST a notification: bounded retries with exponential backoff.

    ``timeout`` bounds each attempt as a whole (connecting, waiting and reading the
    answer); an answer over ``max_bytes`` fails the attempt (:mod:`tailor.outbound`).
    """

    url: str
    secret: str | None = None
    retries: int = 4
    timeout: float = 10.0
    max_bytes: int = DEFAULT_MAX_BYTES
    backoff: float = 0.5
    max_backoff: float = 8.0
    session: Any = None
    sleep: Callable[[float], None] = time.sleep

    def worst_case_seconds(self) -> float:
        waits = sum(min(self.backoff * 2**i, self.max_backoff) for i in range(self.retries))
        return (self.retries + 1) * self.timeout + waits


@dataclass
class Outcome:
    payload: dict[str, Any]
    notified: bool
    redelivered: bool = False
    attempts: int = 0
    error: str | None = None


@dataclass
class NotifyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    claimed_elsewhere: int = 0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.notified]


def new_owner() -> str:
    """This scan's lease owner id: ``host:pid:nonce``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str | None) -> bool:
    """True when ``owner`` is a scan on this host whose process is gone (e.g. kill -9)."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: wait for its lease to expire
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def post(
    delivery: Delivery, body: dict[str, Any], key: str, on_attempt: Callable[[str | None], None] | None = None
) -> tuple[bool, int, str | None]:
    """POST ``body`` signed, with ``Idempotency-Key``; ``(acknowledged, attempts, last error)``.

    Retries connection errors, timeouts, 5xx and 429 with exponential backoff;
    any other status is final.
    """
    import requests

    from tailor import outbound
    from tailor.client import SIGNATURE_HEADER, request_target, sign

    session = delivery.session or requests.Session()
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    error: str | None = None
    for attempt in range(delivery.retries + 1):
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: key, "User-Agent": "tailor-triggers-scan"}
        if delivery.secret:
            # fresh t= per attempt; bound to this method and URL like every tailor signature
            headers[SIGNATURE_HEADER] = sign(data, delivery.secret, method="POST", path=request_target(delivery.url))
        retry_after = None
        try:
            response = outbound.post(
                session,
                delivery.url,
                data=data,
                headers=headers,
                deadline=time.monotonic() + delivery.timeout,
                max_bytes=delivery.max_bytes,
            )
        except outbound.OutboundError as exc:
            # a timeout, a failed connection or an answer over the cap: worth another attempt
            error, retryable = f"{exc.kind}: {exc.reason}"[:500], True
        else:
            if 200 <= response.status_code < 300:
                if on_attempt:
                    on_attempt(None)
                return True, attempt + 1, None
            error = f"HTTP {response.status_code}"
            retryable = response.status_code >= 500 or response.status_code in (408, 429)
            retry_after = response.headers.get("Retry-After")
        if on_attempt:
            on_attempt(error)
        if not retryable or attempt == delivery.retries:
            return False, attempt + 1, error
        wait = min(delivery.backoff * 2**attempt, delivery.max_backoff)
        if retry_after and retry_after.isdigit():
            wait = min(max(wait, float(retry_after)), delivery.max_backoff)
        delivery.sleep(wait)
    return False, delivery.retries + 1, error


#: ``(payload, idempotency key, on_attempt=…) -> (done, attempts, last error)``
Sending = Callable[..., tuple[bool, int, str | None]]


def notify(
    store: Any,
    due: list[dict[str, Any]],
    at: datetime,
    delivery: Delivery | None,
    *,
    owner: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
    echo: Callable[[Outcome], None] | None = None,
    send: Sending | None = None,
) -> NotifyReport:
    """Claim every due payload, then deliver every pending notification once acknowledged.

    Pending notifications left by an earlier scan (crashed, or the receiver was down)
    are delivered again, with the same ``Idempotency-Key``. ``send`` replaces the POST
    to ``delivery.url`` (``--deliver smtp://…`` renders and mails each payload instead);
    it answers like :func:`post`: ``(done, attempts, error)``.
    """
    owner = owner or new_owner()
    if delivery is not None:
        lease = max(lease, timedelta(seconds=2 * delivery.worst_case_seconds()))
    if send is None:
        if delivery is None:
            raise ValueError("give a delivery (a URL to POST to) or a send function")
        send = partial(post, delivery)
    at = to_utc(at)
    report = NotifyReport()
    mine: set[int] = set()
    for item in due:
        row_id = store.claim_trigger(
            item["profile_id"],
            item["trigger"],
            item["key"],
            fired_at=at,
            payload=item,
            owner=owner,
            lease_until=_now() + lease,
        )
        if row_id is None:
            report.claimed_elsewhere += 1
        else:
            mine.add(row_id)
    pending = store.pending_notifications()
    dead = {row["lease_owner"] for row in pending if row["lease_owner"] != owner and owner_is_dead(row["lease_owner"])}
    for row in pending:
        # (re)take the lease right before posting: exactly one live scan delivers a row
        if not store.lease_notification(row["id"], owner=owner, until=_now() + lease, dead_owners=dead):
            continue
        body = dict(row["payload"])
        acknowledged, attempts, error = send(
            body,
            row["key"],
            on_attempt=partial(store.notification_attempted, row["id"], owner),  # called with each error
        )
        if acknowledged:
            acknowledged = store.notification_acknowledged(row["id"], owner)
            error = None if acknowledged else "lease lost before acknowledging"
        else:
            store.release_notification(row["id"], owner)
        outcome = Outcome(body, acknowledged, redelivered=row["id"] not in mine, attempts=attempts, error=error)
        report.outcomes.append(outcome)
        if echo:
            echo(outcome)
    return report


def _now() -> datetime:
    return datetime.now(UTC)
