"""Writing a batch of validated records in one transaction (the caller's).

Identity integrity: an identifier a message merely *claims* — the email of an identify,
an alias's ``previousId``, an ``anonymousId`` — never moves into another **known**
profile (one with a user id) than the message's own, unless the write is *trusted*
(an operator's file, or a write key marked trusted: a server-side source). Otherwise
anyone holding a write key could identify with a customer's email (or alias a
customer's id) and get that customer's profile merged into theirs — traits, email,
consents, events. Such a claim is dropped, the rest of the message is stored, and the
conflict is reported (:class:`IdentityConflict`, profile ids only).

An untrusted message about a known profile is also limited in what it may *change*
(Segment's model: a ``userId`` is only the client's assertion, so anyone with a browser
write key can name any customer). It cannot replace the email a known profile already
has — the new address would then receive the customer's mail and could be used to ask
for their export or erasure — and its consent statements can only withdraw: a "no" is
privacy-safe (and is what a browser consent banner sends), a "yes" could re-subscribe
someone who declined. Ordinary traits stay writable.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ARRAY, Connection, String, any_, bindparam, delete, func, insert, select, update

from tailor.vocabulary.consent import TRACKING, granted

from . import privacy, staging
from .messages import Record
from .models import Event, Identity, Profile, Suppression, TriggerState
from .resolve import ANON_PREFIX, Component, Key, ProfileState, components, record_keys

CHUNK = 500
#: message ids, identifiers and profile ids looked up per query (one parameter: see :func:`_member_of`)
ID_CHUNK = 10_000

events_t = Event.__table__
identities_t = Identity.__table__
profiles_t = Profile.__table__
trigger_t = TriggerState.__table__
suppressions_t = Suppression.__table__


@dataclass(frozen=True)
class IdentityConflict:
    """An untrusted message claimed an identifier of another known profile; the claim was dropped.

    ``kind``: ``email``, ``alias`` (a ``previousId``) or ``anonymous_id``; ``email`` also
    when the claim would replace a known profile's email (``owner`` and ``claimant`` are
    then both that profile), ``consent`` when a grant was refused for a purpose the
    profile has declined. Only ids, never the email, so it can be logged.
    """

    kind: str
    message_id: str
    #: the known profile the identifier belongs to (left untouched)
    owner: str
    #: the profile the message is about (its user id when that is new; None if anonymous and new)
    claimant: str | None


#: ``MessageIdClash`` kinds: the same sender's id again with other content (dropped), or
#: another sender's id (stored)
REUSED, SHARED = "reused", "shared"


@dataclass(frozen=True)
class MessageIdClash:
    """A ``messageId`` that was already used: by the same sender for other content, or by another."""

    kind: str
    message_id: str
    #: the JSON pointer of the message in its batch
    pointer: str

    @property
    def detail(self) -> str:
        if self.kind == REUSED:
            return "this messageId was already used by this sender for a different message: this one was not stored"
        return "this messageId is also used by another person's message: both are stored"


@dataclass(frozen=True)
class IngestResult:
    """What an ingestion did: records stored (or changed), records already known,
    behavioural events dropped because their profile has no ``tracking`` consent,
    identity claims refused, and ``messageId`` clashes."""

    accepted: int = 0
    duplicates: int = 0
    dropped_no_consent: int = 0
    conflicts: tuple[IdentityConflict, ...] = ()
    clashes: tuple[MessageIdClash, ...] = ()

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            self.accepted + other.accepted,
            self.duplicates + other.duplicates,
            self.dropped_no_consent + other.dropped_no_consent,
            self.conflicts + other.conflicts,
            self.clashes + other.clashes,
        )


def apply_records(
    conn: Connection,
    records: Sequence[Record],
    hash_email: Callable[[str], str],
    now: datetime,
    *,
    trusted: bool = True,
) -> IngestResult:
    """Store ``records``: identities, merges, traits and events. Idempotent on ``message_id``.

    Untrusted records (``trusted=False``: a write key not marked trusted) cannot join
    two known profiles, replace a known profile's email or grant consent: see the
    module docstring.
    """
    fresh, duplicates, clashes = _drop_duplicates(conn, records)
    if not fresh:
        return IngestResult(0, duplicates, clashes=tuple(clashes))

    keys_per_record = [record_keys(r, hash_email) for r in fresh]
    alias_candidates = [(i, r.previous_id) for i, r in enumerate(fresh) if r.previous_id is not None]
    wanted: set[Key] = {k for keys in keys_per_record for k in keys}
    wanted |= {(kind, prev) for _, prev in alias_candidates for kind in ("user_id", "anonymous_id")}
    identities = _load_identities(conn, wanted)
    used_as_user = {k[1] for keys in keys_per_record for k in keys if k[0] == "user_id"}
    for i, prev in alias_candidates:
        # previousId names either kind of id: whichever is known, else a user id seen in this batch
        if ("user_id", prev) in identities or (("anonymous_id", prev) not in identities and prev in used_as_user):
            keys_per_record[i].append(("user_id", prev))
        else:
            keys_per_record[i].append(("anonymous_id", prev))
    identities = _linked(identities, keys_per_record)

    candidate_ids = {pid for pid in identities.values()}
    candidate_ids |= {v if k == "user_id" else "anon-" + v for keys in keys_per_record for k, v in keys if k != "email"}
    states = _load_profiles(conn, candidate_ids)
    conflicts = _drop_foreign_claims(fresh, keys_per_record, identities, states, trusted=trusted)
    conflicts += _keep_known_emails(fresh, keys_per_record, identities, states, trusted=trusted)
    identities = _linked(identities, keys_per_record)
    uf, groups = components(keys_per_record, identities, states)

    root_of_key: dict[Key, Any] = {}  # a person's records share their first key
    root_of_record = [
        root_of_key.get(keys[0]) or root_of_key.setdefault(keys[0], uf.find(("K",) + keys[0]))
        for keys in keys_per_record
    ]
    first_seen: dict[Any, datetime] = {}
    for root, record in zip(root_of_record, fresh, strict=True):
        seen = record.created_at or record.timestamp
        first_seen[root] = min(first_seen.get(root, seen), seen)

    owner, new_profiles, merges = _owners(groups, states, first_seen)

    changed = [False] * len(fresh)
    # last-write-wins makes the order irrelevant; a fixed order keeps runs reproducible
    for i in sorted(range(len(fresh)), key=lambda i: (fresh[i].timestamp, fresh[i].message_id)):
        changed[i] = owner[root_of_record[i]].apply(fresh[i])

    # rows are written parents first: new profiles, then moves, identities, events
    if new_profiles:
        staging.insert_rows(conn, profiles_t, [s.as_row(now) for s in new_profiles])
    _move_rows(conn, {pid: target for target, absorbed in merges for pid in absorbed})
    new_identity_rows = []
    for root, group in groups.items():
        if root in owner:
            # a lookup per key (``group.keys - set(identities)`` copied every identity per person)
            for kind, value in sorted(key for key in group.keys if key not in identities):
                new_identity_rows.append(
                    {"kind": kind, "value": value, "profile_id": owner[root].id, "created_at": now}
                )
    if new_identity_rows:
        staging.insert_rows(conn, identities_t, new_identity_rows, conflict=["kind", "value"])
        privacy.note_returning(conn, new_identity_rows, hash_email, now)
    # privacy: consent statements are kept as history; without tracking consent (as it
    # stands after this batch) behavioural events are counted and dropped, never stored
    history = [
        row
        for root, r in zip(root_of_record, fresh, strict=True)
        if r.consents
        for row in privacy.consent_rows(owner[root].id, r, now)
    ]
    untracked = {
        i
        for i, (root, r) in enumerate(zip(root_of_record, fresh, strict=True))
        if privacy.is_behavioural(r) and not granted(owner[root].consents, TRACKING)
    }
    event_rows = [
        _event_row(r, owner[root].id)
        for i, (root, r) in enumerate(zip(root_of_record, fresh, strict=True))
        if r.store_event and i not in untracked
    ]
    inserted = _insert_events(conn, event_rows)
    _update_changed_profiles(conn, owner.values(), now)
    privacy.record_consent_history(conn, history)
    privacy.count(conn, privacy.DROPPED_NO_CONSENT, len(untracked), now)

    new_keys = {(r["kind"], r["value"]) for r in new_identity_rows}
    accepted = 0
    for i, record in enumerate(fresh):
        if i in untracked:
            continue
        if record.store_event:
            accepted += record.message_id in inserted
        else:
            # a profile row counts as new when it created or changed something
            keys = keys_per_record[i]
            accepted += changed[i] or any(k in new_keys for k in keys)
    return IngestResult(
        accepted, duplicates + len(fresh) - accepted - len(untracked), len(untracked), tuple(conflicts), tuple(clashes)
    )


def _owners(
    groups: dict[Any, Component], states: dict[str, ProfileState], first_seen: dict[Any, datetime]
) -> tuple[dict[Any, ProfileState], list[ProfileState], list[tuple[str, list[str]]]]:
    """The surviving profile of each person this batch touches: ``(owner by root, new profiles, merges)``.

    A person without a profile gets a new one (created when first seen); a person spread
    over several profiles keeps the group's target, which absorbs the others.
    """
    owner: dict[Any, ProfileState] = {}
    new_profiles: list[ProfileState] = []
    merges: list[tuple[str, list[str]]] = []
    for root, group in sorted(groups.items()):
        if root not in first_seen:
            continue  # an identity of a loaded profile that no record of this batch touches
        target = group.target_id()
        if target not in states:
            states[target] = ProfileState(id=target, created_at=first_seen[root], new=True, dirty=True)
            new_profiles.append(states[target])
        survivor = states[target]
        absorbed = [pid for pid in group.profiles if pid != target]
        for pid in absorbed:
            survivor.absorb(states[pid])
        if absorbed:
            merges.append((target, absorbed))
        owner[root] = survivor
    return owner, new_profiles, merges


def _update_changed_profiles(conn: Connection, states: Iterable[ProfileState], now: datetime) -> None:
    """One UPDATE for every existing profile the batch changed (new ones were inserted already)."""
    dirty = {s.id: s for s in states if s.dirty and not s.new}
    if not dirty:
        return
    staging.update_rows(conn, profiles_t, [state.as_row(now) for state in dirty.values()], key="id")


def _drop_foreign_claims(
    fresh: list[Record],
    keys_per_record: list[list[Key]],
    identities: dict[Key, str],
    states: dict[str, ProfileState],
    *,
    trusted: bool,
) -> list[IdentityConflict]:
    """Remove, in place, each record's claimed identifiers that belong to another known profile.

    A record's own identity is its ``userId`` (else its ``anonymousId``): the first of its
    keys, never removed. Any other key already resolving to a known profile that is not
    the one its own identity resolves to is dropped (an email also stops being written
    to the profile) — and so is a key new in this batch that another known profile (or
    new user id) claimed earlier in it. Joining anonymous profiles stays allowed (a
    visitor logging in).
    A record about a known profile that already has an email cannot replace it (the new
    email is dropped, kind ``email``). Consent grants are dropped, withdrawals kept; a
    grant for a purpose the profile has declined is reported (kind ``consent``) — a grant
    elsewhere changes nothing, absent consent counting as granted.
    A trusted write claims what it names: nothing is removed.
    """
    if trusted:
        return []

    def owner(key: Key) -> str | None:
        return _profile_of(key, identities, states)

    conflicts = []
    # an identifier new in this batch → the known profile (or new user id) that claimed it
    # first: two known people cannot be joined through an identifier both claim in one batch
    first_claim: dict[Key, str] = {}
    for i, record in enumerate(fresh):
        keys = keys_per_record[i]
        own = owner(keys[0])
        claimant = own if own is not None else record.user_id
        known = claimant if claimant is not None and not claimant.startswith(ANON_PREFIX) else None
        kept = [keys[0]]
        profile = states.get(own) if own is not None else None
        # a known profile's email stays (an anonymous one's may change: a visitor correcting a form)
        if (
            profile is not None
            and not profile.id.startswith(ANON_PREFIX)
            and profile.email is not None
            and record.email not in (None, profile.email)
        ):
            conflicts.append(IdentityConflict("email", record.message_id, profile.id, profile.id))
            fresh[i] = record = replace(record, email=None)
            keys = [key for key in keys if key[0] != "email"]
        if any(record.consents.values()):
            for purpose, claimed in sorted(record.consents.items()):
                if claimed and profile is not None and not granted(profile.consents, purpose):
                    conflicts.append(IdentityConflict("consent", record.message_id, profile.id, claimant))
            withdrawals = {purpose: False for purpose, given in record.consents.items() if not given}
            fresh[i] = record = replace(record, consents=withdrawals)
        for key in keys[1:]:
            other = owner(key)
            if other is None:
                other = first_claim.setdefault(key, known) if known is not None else first_claim.get(key)
            if other is None or other in (own, known) or other.startswith(ANON_PREFIX):
                kept.append(key)
                continue
            kind = "alias" if record.previous_id is not None and key[1] == record.previous_id else key[0]
            conflicts.append(IdentityConflict(kind, record.message_id, other, claimant))
            if key[0] == "email":
                fresh[i] = record = replace(record, email=None)
        keys_per_record[i] = kept
    return conflicts


def _keep_known_emails(
    fresh: list[Record],
    keys_per_record: list[list[Key]],
    identities: dict[Key, str],
    states: dict[str, ProfileState],
    *,
    trusted: bool,
) -> list[IdentityConflict]:
    """Untrusted: remove, in place, what would bring another email into a known profile through a join.

    :func:`_drop_foreign_claims` stops a message about a known profile from replacing its
    email; a visitor joining it (an anonymous profile, or a new anonymous id identified
    in the same batch) could still bring one — the merge keeps the newest email. So, per
    person this batch forms around a known profile that has an email: a record's other
    email is dropped, and an existing anonymous profile holding another email is not
    joined (its identifiers are dropped from the records linking it). Repeated until
    nothing changes, as removing a link can split a person.
    A trusted write claims what it names: nothing is removed.
    """
    conflicts: list[IdentityConflict] = []
    if trusted:
        return conflicts
    while True:
        linked = _linked(identities, keys_per_record)
        uf, groups = components(keys_per_record, linked, states)
        removed = False
        for root, group in sorted(groups.items()):
            keeper = next(
                (
                    states[pid]
                    for pid in group.profiles
                    if not pid.startswith(ANON_PREFIX) and states[pid].email is not None
                ),
                None,
            )
            if keeper is None:
                continue
            strangers = {
                pid
                for pid in group.profiles
                if pid.startswith(ANON_PREFIX) and states[pid].email not in (None, keeper.email)
            }
            for i, record in enumerate(fresh):
                keys = keys_per_record[i]
                if uf.find(("K",) + keys[0]) != root:
                    continue
                if record.email is not None and record.email != keeper.email:
                    conflicts.append(IdentityConflict("email", record.message_id, keeper.id, record.user_id))
                    fresh[i] = replace(record, email=None)
                    keys_per_record[i] = [key for key in keys if key[0] != "email"]
                    removed = True
                    continue
                joining = [key for key in keys[1:] if _profile_of(key, identities, states) in strangers]
                for key in joining:
                    stranger = _profile_of(key, identities, states)
                    conflicts.append(IdentityConflict("email", record.message_id, keeper.id, stranger))
                if joining:
                    keys_per_record[i] = [key for key in keys if key not in joining]
                    removed = True
        if not removed:
            return conflicts


def _linked(identities: dict[Key, str], keys_per_record: list[list[Key]]) -> dict[Key, str]:
    """The identities some record of the batch names (one pass: a batch's keys against a set)."""
    named = {key for keys in keys_per_record for key in keys}
    return {k: v for k, v in identities.items() if k in named}


def _profile_of(key: Key, identities: dict[Key, str], states: dict[str, ProfileState]) -> str | None:
    """The existing profile an identifier resolves to (its identity, else the profile named after it), or None."""
    found = identities.get(key)
    if found is not None:
        return found
    kind, value = key
    candidate = value if kind == "user_id" else ANON_PREFIX + value if kind == "anonymous_id" else None
    return candidate if candidate in states else None


def _drop_duplicates(conn: Connection, records: Sequence[Record]) -> tuple[list[Record], int, list[MessageIdClash]]:
    """The records not stored yet, the number dropped as duplicates, and the ``messageId`` clashes.

    A duplicate has the ``messageId`` of a stored (or earlier) event in the same scope
    (or of a row from before scopes, scope ``''``); when its content differs that is a
    ``reused`` clash (dropped all the same: the first one stays). Another scope's event
    with the same ``messageId`` is a ``shared`` clash: both are stored.
    """
    clashes: list[MessageIdClash] = []
    first: dict[tuple[str, str], Record] = {}
    unique: list[Record] = []
    #: the scopes each stored message id has in this batch
    batch_scopes: dict[str, set[str]] = {}
    for record in records:
        key = (record.scope, record.message_id)
        earlier = first.get(key)
        if earlier is None:
            first[key] = record
            unique.append(record)
            if record.store_event:
                batch_scopes.setdefault(record.message_id, set()).add(record.scope)
        elif _content(earlier) != _content(record):
            clashes.append(MessageIdClash(REUSED, record.message_id, record.pointer))
    stored = _stored_events(conn, batch_scopes)
    fresh = []
    for record in unique:
        if not record.store_event:
            fresh.append(record)
            continue
        rows = stored.get(record.message_id)
        if rows is None:
            if len(batch_scopes[record.message_id]) > 1:
                clashes.append(MessageIdClash(SHARED, record.message_id, record.pointer))
            fresh.append(record)
            continue
        same = [row for row in rows if row.scope in (record.scope, "")]
        if same:
            if _content(same[0]) != _content(record):
                clashes.append(MessageIdClash(REUSED, record.message_id, record.pointer))
            continue
        clashes.append(MessageIdClash(SHARED, record.message_id, record.pointer))
        fresh.append(record)
    return fresh, len(records) - len(fresh), clashes


def _stored_events(conn: Connection, message_ids: Collection[str]) -> dict[str, list[Any]]:
    """The stored events with these message ids (any scope), by message id."""
    stored: dict[str, list[Any]] = {}
    columns = (events_t.c.message_id, events_t.c.scope, events_t.c.type, events_t.c.event, events_t.c.properties)
    for chunk in _chunks(sorted(message_ids), ID_CHUNK):
        for row in conn.execute(select(*columns).where(_member_of(conn, events_t.c.message_id, list(chunk)))):
            stored.setdefault(row.message_id, []).append(row)
    return stored


def _member_of(conn: Connection, column: Any, values: list[str]) -> Any:
    """``column IN values`` with ``values`` as one parameter — a JSON array (SQLite) or an array
    (PostgreSQL) — rather than a bound parameter each: SQLAlchemy spends Python time on every
    one, and a batch of 20,000 records would take 40 queries of 500."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam("values", values, type_=ARRAY(String)))
    members = func.json_each(bindparam("values", orjson.dumps(values).decode())).table_valued("value")
    return column.in_(select(members.c.value))


def _content(event: Any) -> tuple[Any, ...]:
    """What a retry repeats exactly (its time may move: the skew correction uses the send time)."""
    return (event.type, event.event, dict(event.properties or {}))


def _load_identities(conn: Connection, keys: set[Key]) -> dict[Key, str]:
    found: dict[Key, str] = {}
    by_kind: dict[str, list[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, []).append(value)
    for kind, values in sorted(by_kind.items()):
        for chunk in _chunks(sorted(values), ID_CHUNK):
            query = select(identities_t.c.value, identities_t.c.profile_id).where(
                identities_t.c.kind == kind, _member_of(conn, identities_t.c.value, list(chunk))
            )
            for value, pid in conn.execute(query):
                found[(kind, value)] = pid
    return found


def _load_profiles(conn: Connection, ids: Iterable[str]) -> dict[str, ProfileState]:
    states: dict[str, ProfileState] = {}
    for chunk in _chunks(sorted(ids), ID_CHUNK):
        for row in conn.execute(select(profiles_t).where(_member_of(conn, profiles_t.c.id, list(chunk)))):
            states[row.id] = ProfileState.from_row(row)
    return states


def _move_rows(conn: Connection, moves: dict[str, str]) -> None:
    """Move the identities, events, suppressions and trigger state of merged profiles (absorbed id →
    survivor id) to their survivors; delete them. A few statements per chunk of merges, not per merge."""
    absorbed = sorted(moves)
    for chunk in _chunks(absorbed):
        survivor_of = privacy.survivor_case({pid: moves[pid] for pid in chunk})
        for table in (identities_t, events_t, suppressions_t):
            conn.execute(update(table).where(table.c.profile_id.in_(chunk)).values(profile_id=survivor_of(table)))
        merged_state = conn.execute(select(trigger_t.c.profile_id).where(trigger_t.c.profile_id.in_(chunk))).scalars()
        for pid in sorted(set(merged_state)):
            _merge_trigger_state(conn, moves[pid], [pid])
        privacy.move_rows(conn, {pid: moves[pid] for pid in chunk})
        conn.execute(delete(profiles_t).where(profiles_t.c.id.in_(chunk)))


def _merge_trigger_state(conn: Connection, survivor: str, absorbed: list[str]) -> None:
    rows = conn.execute(select(trigger_t).where(trigger_t.c.profile_id.in_([survivor, *absorbed]))).all()
    if not any(r.profile_id != survivor for r in rows):
        return
    latest: dict[tuple[str, str], datetime] = {}
    mine: dict[tuple[str, str], datetime] = {}
    for row in rows:
        episode = (row.trigger, row.key)
        latest[episode] = max(latest.get(episode, row.fired_at), row.fired_at)
        if row.profile_id == survivor:
            mine[episode] = row.fired_at
    conn.execute(delete(trigger_t).where(trigger_t.c.profile_id.in_(absorbed)))
    for (trigger, key), fired_at in sorted(latest.items()):
        if (trigger, key) not in mine:
            conn.execute(insert(trigger_t).values(profile_id=survivor, trigger=trigger, key=key, fired_at=fired_at))
        elif mine[(trigger, key)] < fired_at:
            conn.execute(
                update(trigger_t)
                .where(trigger_t.c.profile_id == survivor, trigger_t.c.trigger == trigger, trigger_t.c.key == key)
                .values(fired_at=fired_at)
            )


def _event_row(record: Record, profile_id: str) -> dict[str, Any]:
    return {
        "message_id": record.message_id,
        "scope": record.scope,
        "profile_id": profile_id,
        "type": record.type,
        "event": record.event,
        "properties": record.properties,
        "context": record.context,
        "timestamp": record.timestamp,
        "received_at": record.received_at,
    }


def _insert_events(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert events, skipping stored message ids (a concurrent retry); the ids actually inserted."""
    return staging.insert_events(conn, rows)


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
