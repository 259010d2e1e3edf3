"""Identity resolution: which profile each record belongs to, and merges.

Rules (deterministic — the result does not depend on arrival order):

* Every record links all its identifiers (``userId``, ``anonymousId``, the email of an
  identify, an alias's ``previousId``) into one profile. Identifiers that were already
  linked to different profiles make those profiles one: they are **merged**.
* A profile's id is its smallest ``userId``, or ``anon-<anonymousId>`` while it has
  none. When an anonymous profile gets a user id, or profiles merge, everything moves
  to the profile named by the smallest user id (created if needed); absorbed ids stay
  resolvable through their identities (``load_profile(id=...)`` accepts any of them).
* Traits and the email are last-write-wins by the timestamp of the message that set
  them (ties broken by ``messageId``), per trait, also across a merge.
* Consents are kept per *source* (the message's ``userId``, else its ``anonymousId``):
  within a source the latest write wins; across sources the most restrictive wins
  (``false`` beats ``true``). So when two profiles merge and disagree, the person is
  treated as not consenting until the source that said no says yes again — and the
  result is the same whatever the arrival order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from .messages import Record
from .times import stamp

ANON_PREFIX = "anon-"

Key = tuple[str, str]  # (kind, value)


def record_stamp(record: Record) -> list[str]:
    """The last-write-wins order of a record's writes."""
    return [stamp(record.timestamp), record.message_id]


@dataclass
class ProfileState:
    """A profile row held in memory while a batch is applied."""

    id: str
    created_at: datetime
    email: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    consents: dict[str, bool] = field(default_factory=dict)
    stamps: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None
    timezone: str | None = None
    new: bool = False
    dirty: bool = False

    @classmethod
    def from_row(cls, row: Any) -> ProfileState:
        return cls(
            id=row.id,
            created_at=row.created_at,
            email=row.email,
            traits=dict(row.traits or {}),
            consents=dict(row.consents or {}),
            stamps=_copy_stamps(row.stamps),
            locale=row.locale,
            timezone=row.timezone,
        )

    def as_row(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "traits": self.traits,
            "consents": self.consents,
            "stamps": self.stamps,
            "locale": self.traits.get("locale") if isinstance(self.traits.get("locale"), str) else None,
            "timezone": self.traits.get("timezone") if isinstance(self.traits.get("timezone"), str) else None,
            "created_at": self.created_at,
            "updated_at": now,
        }

    def apply(self, record: Record) -> bool:
        """Apply a record's traits, consents and email; True if a value changed."""
        changed = False
        first_seen = record.created_at or record.timestamp
        if first_seen < self.created_at:
            self.created_at, self.dirty, changed = first_seen, True, True
        if not (record.traits or record.consents or record.email is not None):
            # an event (most records of a big file): nothing to stamp; the stamps keep their shape
            self.stamps.setdefault("traits", {})
            self.stamps.setdefault("consents", {})
            return changed
        new = record_stamp(record)
        trait_stamps = self.stamps.setdefault("traits", {})
        for name, value in record.traits.items():
            changed |= self._write(self.traits, trait_stamps, name, value, new)
        source = record.user_id or record.anonymous_id or ""
        by_purpose = self.stamps.setdefault("consents", {})
        for purpose, granted in record.consents.items():
            current = by_purpose.setdefault(purpose, {}).get(source)
            if current is None or new > current[:2]:
                by_purpose[purpose][source], self.dirty = [*new, granted], True
                changed |= self._settle_consent(purpose)
        if record.email is not None:
            current = self.stamps.get("email")
            if current is None or new > current:
                changed |= self.email != record.email
                self.email, self.stamps["email"], self.dirty = record.email, new, True
        return changed

    def _settle_consent(self, purpose: str) -> bool:
        """Most restrictive over sources: one source's latest "no" is a no."""
        value = all(entry[2] for entry in self.stamps["consents"][purpose].values())
        changed = self.consents.get(purpose) != value
        self.consents[purpose] = value
        return changed

    def _write(self, values: dict[str, Any], stamps: dict[str, Any], name: str, value: Any, new: list[str]) -> bool:
        current = stamps.get(name)
        if current is not None and new <= current:
            return False
        # a newer write of the same value still moves the stamp (older writes must lose
        # against it) but is not a change anyone can see
        changed = name not in values or values[name] != value
        values[name], stamps[name], self.dirty = value, new, True
        return changed

    def absorb(self, other: ProfileState) -> None:
        """Merge ``other`` (the same person) into this profile."""
        mine, theirs = self.stamps.setdefault("traits", {}), other.stamps.get("traits", {})
        for name, value in other.traits.items():
            if name not in mine or (theirs.get(name) or []) > mine[name]:
                self.traits[name], mine[name] = value, theirs.get(name) or []
        by_purpose = self.stamps.setdefault("consents", {})
        for purpose, sources in other.stamps.get("consents", {}).items():
            mine = by_purpose.setdefault(purpose, {})
            for source, entry in sources.items():
                if source not in mine or entry[:2] > mine[source][:2]:
                    mine[source] = entry
            self._settle_consent(purpose)
        if other.email is not None and (
            self.email is None or (other.stamps.get("email") or []) > (self.stamps.get("email") or [])
        ):
            self.email, self.stamps["email"] = other.email, other.stamps.get("email") or []
        self.created_at = min(self.created_at, other.created_at)
        self.dirty = True


def _copy_stamps(stamps: Any) -> dict[str, Any]:
    stamps = dict(stamps or {})
    for key in ("traits", "consents"):
        stamps[key] = dict(stamps.get(key) or {})
    return stamps


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, node: Any) -> Any:
        parents = self.parent
        root = parents.setdefault(node, node)
        if root == node:
            return node
        # a loop, not recursion (a call per level was most of resolving a batch); paths compressed
        path = [node]
        while (up := parents[root]) != root:
            path.append(root)
            root = up
        for member in path:
            parents[member] = root
        return root

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # a deterministic root keeps component iteration stable
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


@dataclass
class Component:
    """Profiles and identifiers found to be one person."""

    profiles: list[str] = field(default_factory=list)
    keys: set[Key] = field(default_factory=set)

    def target_id(self) -> str:
        """The id of the profile this person ends up in: the smallest user id, if any.

        Every profile's id is the smallest of its user ids, so the smallest over the
        component is the same whatever order its messages arrived in.
        """
        known = [v for k, v in self.keys if k == "user_id"]
        known += [pid for pid in self.profiles if not pid.startswith(ANON_PREFIX)]
        if known:
            return min(known)
        if self.profiles:
            return min(self.profiles)
        anonymous = sorted(v for k, v in self.keys if k == "anonymous_id")
        if anonymous:
            return ANON_PREFIX + anonymous[0]
        return "email-" + sorted(v for _, v in self.keys)[0][:24]


def record_keys(record: Record, hash_email: Callable[[str], str]) -> list[Key]:
    keys: list[Key] = []
    if record.user_id is not None:
        keys.append(("user_id", record.user_id))
    if record.anonymous_id is not None:
        keys.append(("anonymous_id", record.anonymous_id))
    if record.email is not None:
        keys.append(("email", hash_email(record.email)))
    return keys


def components(
    record_key_lists: Iterable[list[Key]],
    identities: dict[Key, str],
    profile_ids: Iterable[str],
) -> tuple[UnionFind, dict[Any, Component]]:
    """Group identifiers and existing profiles into people."""
    uf = UnionFind()
    known = set(profile_ids)
    for key, pid in identities.items():
        uf.union(("K",) + key, ("P", pid))
    # most records repeat their person's keys (a shopper's events): each distinct list once
    for keys in dict.fromkeys(tuple(keys) for keys in record_key_lists):
        for key in keys:
            node = ("K",) + key
            uf.find(node)
            # a profile created under this id (its identity may not be loaded yet)
            candidate = key[1] if key[0] == "user_id" else ANON_PREFIX + key[1] if key[0] == "anonymous_id" else None
            if candidate in known:
                uf.union(node, ("P", candidate))
        for a, b in pairwise(keys):
            uf.union(("K",) + a, ("K",) + b)
    groups: dict[Any, Component] = {}
    for node in list(uf.parent):
        group = groups.setdefault(uf.find(node), Component())
        if node[0] == "P":
            group.profiles.append(node[1])
        else:
            group.keys.add((node[1], node[2]))
    for group in groups.values():
        group.profiles.sort()
    return uf, groups
