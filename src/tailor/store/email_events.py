"""Email events reported by an ESP (opens, bounces, unsubscribes…), keyed by the recipient's email.

An ESP only knows the address it sent to, so these Segment ``track`` messages carry no
``userId``/``anonymousId`` but ``context.traits.email``. Rules:

* The address is resolved through the email identity (its keyed hash). A known
  recipient gets the event on their profile; the profile's email and traits are not
  touched.
* An unknown recipient gets an anonymous profile (``anon-esp-<hash prefix>``) holding the
  address and the event, so nothing is lost: a later identify with the same email
  merges it into the real profile (events and suppressions move with it).
* The email itself is removed from the stored event's context (the profile has it).
* Each message may name a suppression (``unsubscribe``, ``hard_bounce``,
  ``spam_report``). It is written with the profile id and the email hash, only when its
  event is new (a retry adds nothing), and not twice for the same address and reason.
* Events and suppressions of a batch are written in one transaction; ``messageId``
  makes the whole thing idempotent.
* A request's single-use token (Mailgun) is claimed in that same transaction: a token
  already used with other content is a replay (:class:`WebhookReplayed`, nothing is
  written); with the same content it is the provider retrying (duplicates). Expired
  tokens are deleted as new ones arrive — the signature's timestamp check refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select

from tailor.vocabulary.emails import email_address

from .errors import ValidationError
from .ingest import _chunks, _drop_duplicates, _event_row, _insert_events, apply_records, identities_t, suppressions_t
from .messages import Record, validate_message
from .models import UsedWebhookToken
from .upsert import insert_ignore

if TYPE_CHECKING:
    from tailor.esp.events import WebhookToken

tokens_t = UsedWebhookToken.__table__

#: prefix of the anonymous id given to an ESP recipient tailor has never seen
ESP_ANON_PREFIX = "esp-"
#: the ``messageId`` scope of ESP events
ESP_SCOPE = "esp"


@dataclass(frozen=True)
class EmailEventsResult:
    """What :meth:`Store.ingest_email_events` did."""

    accepted: int = 0
    duplicates: int = 0
    suppressions: int = 0
    #: recipients unknown to the store, given a new anonymous profile
    new_profiles: int = 0


class WebhookReplayed(Exception):
    """A single-use webhook token came again with other content: refuse the request (HTTP 403)."""

    def __init__(self, provider: str):
        self.provider = provider
        super().__init__(f"this {provider} webhook token was already used with other content (a replay)")


def claim_token(conn: Connection, token: WebhookToken, now: datetime) -> bool:
    """Remember ``token``; True when new, False for a retry with the same content; WebhookReplayed otherwise."""
    conn.execute(delete(tokens_t).where(tokens_t.c.expires_at < now))
    row = {"provider": token.provider, "token": token.token, "digest": token.digest, "expires_at": token.expires_at}
    if insert_ignore(conn, tokens_t, [row], ["provider", "token"], returning=tokens_t.c.id):
        return True
    stored = conn.execute(
        select(tokens_t.c.digest).where(tokens_t.c.provider == token.provider, tokens_t.c.token == token.token)
    ).scalar_one()
    if stored != token.digest:
        raise WebhookReplayed(token.provider)
    return False


def validate_email_event(message: Any, pointer: str, received_at: datetime) -> tuple[Record, str]:
    """A Segment track message whose recipient is ``context.traits.email`` → (record, normalized email)."""
    if not isinstance(message, Mapping):
        raise ValidationError(pointer or "/", "a message must be a JSON object")
    context = message.get("context")
    if not isinstance(context, Mapping):
        context = {}
    traits = context.get("traits")
    if not isinstance(traits, Mapping):
        traits = {}
    email = traits.get("email")
    email = email_address(email)
    if email is None:
        raise ValidationError(f"{pointer}/context/traits/email", "required: the recipient's email address")
    stripped_traits = {k: v for k, v in traits.items() if k != "email"}
    stripped_context = {k: v for k, v in context.items() if k != "traits"}
    if stripped_traits:
        stripped_context["traits"] = stripped_traits
    # validated as an anonymous message, then the placeholder id is dropped
    body = {**message, "anonymousId": "-", "userId": None, "context": stripped_context}
    record = validate_message(body, pointer, received_at=received_at)
    if record.type != "track":
        raise ValidationError(f"{pointer}/type", "email events are track messages")
    record.anonymous_id = None
    # ESP message ids are already namespaced by provider and event (esp-<provider>-<hash>)
    record.scope = ESP_SCOPE
    return record, email


def apply_email_events(
    conn: Connection,
    items: Sequence[tuple[Record, str]],
    suppress: Mapping[str, tuple[str, str]],
    hash_email: Callable[[str], str],
    now: datetime,
) -> EmailEventsResult:
    """Store email events (resolved by address) and their suppressions in the caller's transaction."""
    email_of = {record.message_id: email for record, email in items}
    fresh, duplicates, _clashes = _drop_duplicates(conn, [record for record, _ in items])
    if not fresh:
        return EmailEventsResult(0, duplicates)
    hashes = {email: hash_email(email) for email in {email_of[r.message_id] for r in fresh}}
    owners = _email_owners(conn, set(hashes.values()))

    known_rows, unknown = [], []
    for record in fresh:
        email = email_of[record.message_id]
        owner = owners.get(hashes[email])
        if owner is not None:
            known_rows.append(_event_row(record, owner))
        else:
            unknown.append(replace(record, anonymous_id=ESP_ANON_PREFIX + hashes[email][:32], email=email))
    accepted = len(_insert_events(conn, known_rows))
    new_profiles = 0
    if unknown:
        accepted += apply_records(conn, unknown, hash_email, now).accepted
        new_hashes = {hashes[email_of[r.message_id]] for r in unknown}
        new_profiles = len(new_hashes)
        owners.update(_email_owners(conn, new_hashes))

    wanted = []
    for record in fresh:
        if record.message_id not in suppress:
            continue
        reason, source = suppress[record.message_id]
        email_hash = hashes[email_of[record.message_id]]
        wanted.append((owners.get(email_hash), email_hash, reason, source))
    written = _write_suppressions(conn, wanted, now)
    return EmailEventsResult(accepted, duplicates + len(fresh) - accepted, written, new_profiles)


def _email_owners(conn: Connection, hashes: set[str]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for chunk in _chunks(sorted(hashes)):
        query = select(identities_t.c.value, identities_t.c.profile_id).where(
            identities_t.c.kind == "email", identities_t.c.value.in_(chunk)
        )
        owners.update({value: pid for value, pid in conn.execute(query)})
    return owners


def _write_suppressions(conn: Connection, wanted: list[tuple[str | None, str, str, str]], now: datetime) -> int:
    """Insert suppressions, skipping an (email hash, reason) already suppressed."""
    if not wanted:
        return 0
    existing: set[tuple[str, str]] = set()
    for chunk in _chunks(sorted({w[1] for w in wanted})):
        query = select(suppressions_t.c.email_hash, suppressions_t.c.reason).where(
            suppressions_t.c.email_hash.in_(chunk)
        )
        existing.update((h, r) for h, r in conn.execute(query))
    rows = []
    for profile_id, email_hash, reason, source in wanted:
        if (email_hash, reason) in existing:
            continue
        existing.add((email_hash, reason))
        rows.append(
            {"profile_id": profile_id, "email_hash": email_hash, "reason": reason, "source": source, "created_at": now}
        )
    if rows:
        conn.execute(insert(suppressions_t), rows)
    return len(rows)
