"""``Store``: the one entry point to profiles, events, the catalog and suppressions."""

from __future__ import annotations

import functools
import logging
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import ColumnElement, Engine, bindparam, func, or_, select, text

from tailor.vocabulary.consent import PERSONALIZATION, granted
from tailor.vocabulary.emails import email_address

from .catalog import product_dict, products_t, upsert_products
from .documents import find_profile, find_profiles, profile_documents, read_profile_document
from .emails import EmailHasher
from .engine import make_engine, store_file, truncate_wal, write_transaction
from .files import read_batches
from .frames import events_frame, interactions
from .ingest import IngestResult, apply_records
from .messages import Record, validate_message
from .models import Profile, StoreMeta, Suppression, TriggerState
from .schema import current_revision, migrate
from .times import utcnow

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from tailor.esp.events import WebhookToken

    from .email_events import EmailEventsResult

HASH_KEY = "email_hash_key"


class Store:
    """Profiles, identities, events, catalog, trigger state and suppressions in one database.

    ``database_url`` is any SQLAlchemy URL: ``sqlite:///tailor.db`` (WAL mode) or
    ``postgresql://…``. Call :meth:`migrate` once to create or upgrade the schema.
    """

    def __init__(
        self, database_url: str = "sqlite:///tailor.db", *, email_key: str | bytes | None = None, **engine_options: Any
    ):
        self.database_url = database_url
        self.engine: Engine = make_engine(database_url, **engine_options)
        self._email_key = email_key.encode() if isinstance(email_key, str) else email_key
        self._hasher: EmailHasher | None = None

    def __repr__(self) -> str:
        return f"<Store {self.engine.url.render_as_string(hide_password=True)}>"

    # -- lifecycle -----------------------------------------------------------

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest revision."""
        migrate(self.engine)

    def revision(self) -> str | None:
        return current_revision(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def health(self) -> bool:
        """True when the database answers a trivial query (and a SQLite file is still the one opened)."""
        checked = store_file(self.engine)
        if checked is not None and checked.problem():
            return False
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    # -- email hashing -------------------------------------------------------

    def hash_email(self, email: str) -> str:
        """The keyed hash an email is looked up by (HMAC-SHA256 of the normalized address)."""
        if self._hasher is None:
            self._hasher = EmailHasher(self._email_key or self._stored_key())
        return self._hasher(email)

    def _stored_key(self) -> bytes:
        return self.secret_key(HASH_KEY)

    def secret_key(self, name: str) -> bytes:
        """A random 32-byte key kept in ``store_meta`` under ``name``, created on first use.

        In the database, not in settings: every worker and host sharing the store agrees
        on it, and it outlives a rotation of ``TAILOR_SECRET`` (links in sent emails must
        keep working for years).
        """
        from .upsert import insert_ignore

        with self.engine.connect() as conn:
            value = conn.execute(select(StoreMeta.value).where(StoreMeta.key == name)).scalar()
        if value is None:  # first use (or a schema created without the migration's seed row)
            with self.engine.begin() as conn:
                # two processes may get here at once: the first insert wins, both read it back
                insert_ignore(conn, StoreMeta.__table__, [{"key": name, "value": secrets.token_hex(32)}], ["key"])
                value = conn.execute(select(StoreMeta.value).where(StoreMeta.key == name)).scalar_one()
        return bytes.fromhex(value)

    # -- ingestion -----------------------------------------------------------

    def validate(
        self, messages: Sequence[Any], pointer: str = "/batch", *, received_at: datetime | None = None
    ) -> list[Record]:
        """Validate Segment messages; raises ValidationError for the first bad field."""
        received_at = received_at or utcnow()
        return [validate_message(m, f"{pointer}/{i}", received_at=received_at) for i, m in enumerate(messages)]

    def ingest(self, messages: Sequence[Any], *, pointer: str = "/batch", trusted: bool = True) -> IngestResult:
        """Store a batch of Segment messages, all or nothing, idempotent on ``messageId``.

        Every message is validated before anything is written; the first bad field
        raises :class:`ValidationError` with its JSON pointer (``/batch/3/event``).
        ``trusted=False`` (what the HTTP API passes for a write key not marked trusted)
        refuses claims on another known profile's identifiers (see
        :mod:`tailor.store.ingest`); the Python API is operator code and trusted by default.
        """
        return self.ingest_records(self.validate(messages, pointer), trusted=trusted)

    def ingest_message(self, message: Any, *, trusted: bool = True) -> IngestResult:
        """Store one Segment message; a ValidationError's pointer is relative to it (``/event``)."""
        return self.ingest_records([validate_message(message, "", received_at=utcnow())], trusted=trusted)

    def ingest_records(self, records: Sequence[Record], *, trusted: bool = True) -> IngestResult:
        """Store already validated records in one committed transaction."""
        hash_email = self.hash_email
        with write_transaction(self.engine) as conn:
            return apply_records(conn, records, hash_email, utcnow(), trusted=trusted)

    def ingest_file(self, path: str | os.PathLike[str], progress: bool = False) -> IngestResult:
        """Load ``.json``/``.jsonl`` Segment messages, or a profiles or catalog ``.csv``.

        One transaction per file: a problem anywhere (raised as ``ProblemError`` with
        ``path:line:col``) writes nothing. Re-ingesting a file changes nothing.
        """
        now = utcnow()
        self.hash_email("")  # read the key before the write transaction opens
        result = IngestResult()
        with write_transaction(self.engine) as conn:
            for kind, rows in read_batches(path, now, progress=progress):
                if kind == "products":
                    result += upsert_products(conn, rows, now)
                else:
                    result += apply_records(conn, rows, self.hash_email, now)
        return result

    def ingest_bulk(
        self, path: str | os.PathLike[str], *, progress: bool = False, chunk_size: int | None = None
    ) -> IngestResult:
        """Load a big Segment ``.jsonl``/``.csv``/``.parquet`` file (or any :meth:`ingest_file` input):
        validated in full before anything is stored, then applied in committed chunks that a
        re-run after a crash resumes (see :mod:`tailor.store.bulk`). Same semantics as :meth:`ingest`."""
        from .bulk import bulk_ingest

        return bulk_ingest(self, path, progress=progress, chunk_size=chunk_size)

    def ingest_email_events(
        self,
        messages: Sequence[Any],
        suppressions: Mapping[str, tuple[str, str]] | None = None,
        *,
        pointer: str = "",
        token: WebhookToken | None = None,
    ) -> EmailEventsResult:
        """Store ESP email events (Segment track messages whose recipient is ``context.traits.email``).

        ``suppressions`` maps a message's ``messageId`` to ``(reason, source)``: that
        suppression is written with the event. Everything is validated first and stored in
        one transaction; idempotent on ``messageId``. ``token`` (the request's single-use
        webhook token) is claimed in that transaction: a replay raises ``WebhookReplayed``
        and writes nothing. See :mod:`tailor.store.email_events`.
        """
        from .email_events import apply_email_events, claim_token, validate_email_event

        now = utcnow()
        items = [validate_email_event(m, f"{pointer}/{i}", now) for i, m in enumerate(messages)]
        self.hash_email("")  # read the key before the write transaction opens
        with write_transaction(self.engine) as conn:
            if token is not None:
                claim_token(conn, token, now)
            return apply_email_events(conn, items, suppressions or {}, self.hash_email, now)

    def upsert_products(self, products: Iterable[Mapping[str, Any]]) -> IngestResult:
        """Add or update catalog products (dicts with the catalog.csv columns)."""
        from .catalog import product_row

        rows = [product_row(p, f"/{i}") for i, p in enumerate(products)]
        with write_transaction(self.engine) as conn:
            return upsert_products(conn, rows, utcnow())

    # -- reading -------------------------------------------------------------

    def load_profile(
        self,
        *,
        id: str | None = None,
        email: str | None = None,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        event_limit: int | None = 500,
    ) -> dict[str, Any] | None:
        """The profile document (events oldest first: the latest ``event_limit``), or None."""
        return self.load_send_profile(
            id=id, email=email, user_id=user_id, anonymous_id=anonymous_id, event_limit=event_limit
        )[0]

    def load_send_profile(
        self,
        *,
        id: str | None = None,
        email: str | None = None,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        event_limit: int | None = 500,
    ) -> tuple[dict[str, Any] | None, str | None]:
        """:meth:`load_profile`, and the suppressions' change counter read in the same statement
        (None when no profile was found or the counter is not kept): what a send hands to
        :meth:`~tailor.store.suppressions.SuppressionCache.reason` instead of a query of its own."""
        if id is None and email is None and user_id is None and anonymous_id is None:
            return None, None
        hash_email = self.hash_email
        with self.engine.connect() as conn:
            return read_profile_document(
                conn,
                id=id,
                email=email,
                user_id=user_id,
                anonymous_id=anonymous_id,
                hash_email=hash_email,
                event_limit=event_limit,
            )

    def load_profiles(
        self,
        ids: Iterable[str] = (),
        *,
        emails: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        event_limit: int | None = 500,
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Many profile documents at once: ``{(kind, ref): document}`` for kinds ``id``, ``email``, ``user_id``.

        What :meth:`load_profile` gives for each reference (unknown ones are absent), in two
        queries however many there are — one for the profiles, one for their events — where
        a loop would make two per person (a campaign partition loads its audience this way).
        """
        ids, emails, user_ids = list(ids), list(emails), list(user_ids)
        hash_email = self.hash_email
        with self.engine.connect() as conn:
            rows = find_profiles(conn, ids=ids, emails=emails, user_ids=user_ids, hash_email=hash_email)
            docs = profile_documents(conn, {row.id: row for row in rows.values()}.values(), event_limit)
        return {key: docs[row.id] for key, row in rows.items()}

    def suppressions(self, profile_ids: Iterable[str] = (), *, emails: Iterable[str] = ()) -> SuppressionIndex:
        """Every suppression of these profiles or addresses, in one query, for :meth:`SuppressionIndex.reason`."""
        ids = list(dict.fromkeys(profile_ids))
        hashes = list(dict.fromkeys(self.hash_email(e) for e in emails))
        table = Suppression.__table__
        conditions = [table.c.profile_id.in_(ids)] if ids else []
        if hashes:
            conditions.append(table.c.email_hash.in_(hashes))
        rows: list[Any] = []
        if conditions:
            with self.engine.connect() as conn:
                query = select(table.c.id, table.c.profile_id, table.c.email_hash, table.c.reason).where(
                    or_(*conditions)
                )
                rows = list(conn.execute(query.order_by(table.c.id)))
        return SuppressionIndex(rows, self.hash_email)

    def resolve(
        self,
        *,
        id: str | None = None,
        email: str | None = None,
        user_id: str | None = None,
        anonymous_id: str | None = None,
    ) -> str | None:
        """The profile id a reference resolves to."""
        hash_email = self.hash_email
        with self.engine.connect() as conn:
            row = find_profile(
                conn, id=id, email=email, user_id=user_id, anonymous_id=anonymous_id, hash_email=hash_email
            )
        return None if row is None else row.id

    def catalog(self) -> list[dict[str, Any]]:
        """Every product, by id."""
        with self.engine.connect() as conn:
            return [product_dict(r) for r in conn.execute(select(products_t).order_by(products_t.c.id)).mappings()]

    def interactions(self) -> pd.DataFrame:
        """Product interactions for recommenders: ``user_id, product_id, event, timestamp``."""
        with self.engine.connect() as conn:
            return interactions(conn)

    def events_frame(self, since: datetime | None = None, profile_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """All events (optionally since a time, of some profiles) for batch features and trigger scans."""
        with self.engine.connect() as conn:
            return events_frame(conn, since, None if profile_ids is None else set(profile_ids))

    def profile_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(Profile.id).order_by(Profile.id)).scalars())

    def iter_profile_ids(self, page_size: int = 10_000) -> Iterator[str]:
        """Every profile id in order, a page at a time (keyset pagination: no connection held between pages)."""
        after: str | None = None
        while True:
            query = select(Profile.id).order_by(Profile.id).limit(page_size)
            if after is not None:
                query = query.where(Profile.id > after)
            with self.engine.connect() as conn:
                page = list(conn.execute(query).scalars())
            yield from page
            if len(page) < page_size:
                return
            after = page[-1]

    def count_profiles(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Profile)).scalar() or 0)

    # -- privacy -------------------------------------------------------------

    def export_profile(self, id: str) -> dict[str, Any] | None:
        """Everything stored about a person (data-subject access), or None if unknown.

        ``id`` is a profile id, user id, anonymous id or email address: a person an ESP
        reported on (email events, a suppression) may be known by nothing else.
        """
        from .privacy import export_by_email, export_full

        hash_email = self.hash_email
        with self.engine.connect() as conn:
            row = self._find_person(conn, id)
            if row is not None:
                return export_full(conn, row, hash_email, utcnow())
            email = _as_email(id)
            return None if email is None else export_by_email(conn, hash_email(email), utcnow())

    def erase_profile(self, id: str) -> bool:
        """Delete a profile, its identities, events and trigger state in one transaction."""
        return self.erase_profile_receipt(id) is not None

    def erase_profile_receipt(self, id: str) -> dict[str, Any] | None:
        """Erase everything about a person in one transaction (see :mod:`.privacy`); a receipt, or None if unknown.

        ``id`` as for :meth:`export_profile`. On SQLite the WAL is then emptied into the
        database file, where ``secure_delete`` has zeroed the deleted rows.
        """
        from .privacy import erase_by_email, erase_full

        hash_email = self.hash_email
        hash_email("")  # read the key before the write transaction opens
        receipt: dict[str, Any] | None
        with write_transaction(self.engine) as conn:
            row = self._find_person(conn, id)
            if row is not None:
                receipt = erase_full(conn, row, hash_email, utcnow())
            else:
                email = _as_email(id)
                receipt = None if email is None else erase_by_email(conn, hash_email(email), hash_email, utcnow())
        if receipt is not None and not truncate_wal(self.engine):
            # a long reader kept the WAL from being emptied: the next erasure or checkpoint does it
            logger.warning("erasure: the SQLite WAL could not be emptied yet (busy)")
        return receipt

    def resolve_person(self, ref: str) -> str | None:
        """The profile id ``ref`` names: a profile id, user id, anonymous id or email address."""
        with self.engine.connect() as conn:
            row = self._find_person(conn, ref)
        return None if row is None else row.id

    def _find_person(self, conn: Any, ref: str) -> Any:
        row = find_profile(conn, id=ref, hash_email=self.hash_email)
        email = _as_email(ref) if row is None else None
        return row if email is None else find_profile(conn, email=email, hash_email=self.hash_email)

    def add_suppression(
        self,
        *,
        profile_id: str | None = None,
        email: str | None = None,
        email_hash: str | None = None,
        reason: str,
        source: str = "",
    ) -> None:
        """Never email this person again for ``reason`` (unsubscribe, bounce, spam report…).

        ``email_hash`` (this store's :meth:`hash_email` of the address) serves callers that
        never see the address, e.g. a one-click unsubscribe link.
        """
        if profile_id is None and email is None and email_hash is None:
            raise ValueError("give a profile_id, an email or an email_hash")
        if email:
            email_hash = self.hash_email(email)
        with write_transaction(self.engine) as conn:
            if profile_id is not None:
                row = conn.execute(select(Profile.id, Profile.email).where(Profile.id == profile_id)).first()
                if row is None:
                    profile_id = None
                elif email_hash is None and row.email:
                    email_hash = self.hash_email(row.email)
            elif email_hash is not None:
                known_hash = email_hash
                row = find_profile(conn, email="", hash_email=lambda _: known_hash)
                profile_id = row.id if row is not None else None
            conn.execute(
                Suppression.__table__.insert().values(
                    profile_id=profile_id, email_hash=email_hash, reason=reason, source=source, created_at=utcnow()
                )
            )

    def is_suppressed(
        self, profile_id: str | None = None, *, email: str | None = None, email_hash: str | None = None
    ) -> str | None:
        """The reason this profile (or address, or address hash) must not be emailed, or None."""
        hashes = [email_hash] if email_hash else []
        if email:
            hashes.append(self.hash_email(email))
        with self.engine.connect() as conn:
            if profile_id is not None and not email:
                # the caller usually has the address already (render time): one query saved
                row_email = conn.execute(select(Profile.email).where(Profile.id == profile_id)).scalar()
                if row_email:
                    hashes.append(self.hash_email(row_email))
            if profile_id is None and not hashes:
                return None
            params: dict[str, Any] = {f"hash_{i}": h for i, h in enumerate(hashes)}
            if profile_id is not None:
                params["profile_id"] = profile_id
            return conn.execute(_suppression_query(profile_id is not None, len(hashes)), params).scalar()

    # -- trigger state (used by the trigger scan) ----------------------------

    def trigger_fired(self, profile_id: str, trigger: str, key: str = "") -> datetime | None:
        """When ``trigger`` last fired for this profile and key."""
        table = TriggerState.__table__
        with self.engine.connect() as conn:
            return conn.execute(
                select(table.c.fired_at).where(
                    table.c.profile_id == profile_id, table.c.trigger == trigger, table.c.key == key
                )
            ).scalar()

    def record_trigger(self, profile_id: str, trigger: str, key: str = "", fired_at: datetime | None = None) -> bool:
        """Record that ``trigger`` fired; False if it was already recorded at or after ``fired_at``."""
        from .upsert import insert_ignore

        table = TriggerState.__table__
        fired_at = _naive_utc(fired_at or utcnow())
        with write_transaction(self.engine) as conn:
            current = conn.execute(
                select(table.c.fired_at).where(
                    table.c.profile_id == profile_id, table.c.trigger == trigger, table.c.key == key
                )
            ).scalar()
            if current is None:
                insert_ignore(
                    conn,
                    table,
                    [{"profile_id": profile_id, "trigger": trigger, "key": key, "fired_at": fired_at}],
                    ["profile_id", "trigger", "key"],
                )
                return True
            if current >= fired_at:
                return False
            conn.execute(
                table.update()
                .where(table.c.profile_id == profile_id, table.c.trigger == trigger, table.c.key == key)
                .values(fired_at=fired_at)
            )
            return True

    # -- trigger notifications outbox (tailor triggers scan --notify; see outbox.py) ----

    def trigger_history(self) -> list[dict[str, Any]]:
        """Every recorded firing: ``profile_id, trigger, key, fired_at`` (aware UTC)."""
        from . import outbox

        with self.engine.connect() as conn:
            rows = outbox.history(conn)
        for row in rows:
            row["fired_at"] = _aware(row["fired_at"])
        return rows

    def claim_trigger(
        self,
        profile_id: str,
        trigger: str,
        key: str,
        *,
        fired_at: datetime,
        payload: dict[str, Any],
        owner: str,
        lease_until: datetime,
    ) -> int | None:
        """Claim a due trigger for notification (exactly one caller wins a key); the row id or None."""
        from . import outbox

        with write_transaction(self.engine) as conn:
            return outbox.claim(
                conn,
                profile_id=profile_id,
                trigger=trigger,
                key=key,
                fired_at=_naive_utc(fired_at),
                payload=payload,
                owner=owner,
                lease_until=_naive_utc(lease_until),
                now=utcnow(),
            )

    def pending_notifications(self) -> list[dict[str, Any]]:
        """Claimed, not yet acknowledged notifications (``id, profile_id, trigger, key, payload, lease_owner, ...``)."""
        from . import outbox

        with self.engine.connect() as conn:
            return outbox.pending(conn)

    def lease_notification(self, row_id: int, *, owner: str, until: datetime, dead_owners: Iterable[str] = ()) -> bool:
        """Take the delivery lease of a pending notification; False if another live scan holds it."""
        from . import outbox

        with write_transaction(self.engine) as conn:
            return outbox.lease(
                conn, row_id, owner=owner, until=_naive_utc(until), now=utcnow(), dead_owners=dead_owners
            )

    def notification_attempted(self, row_id: int, owner: str, error: str | None = None) -> None:
        from . import outbox

        with write_transaction(self.engine) as conn:
            outbox.attempted(conn, row_id, owner, error)

    def notification_acknowledged(self, row_id: int, owner: str) -> bool:
        """Mark a notification delivered (after the receiver's 2xx)."""
        from . import outbox

        with write_transaction(self.engine) as conn:
            return outbox.acknowledged(conn, row_id, owner, utcnow())

    def release_notification(self, row_id: int, owner: str) -> None:
        from . import outbox

        with write_transaction(self.engine) as conn:
            outbox.release(conn, row_id, owner)

    def notification_state(self) -> list[dict[str, Any]]:
        """Every outbox row with its claim/notify times and attempts."""
        from . import outbox

        with self.engine.connect() as conn:
            return outbox.state(conn)

    def personalization_refused(self) -> set[str]:
        """Ids of profiles whose personalization consent is ``false`` (triggers are off for them)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(Profile.id, Profile.consents)).all()
        return {pid for pid, consents in rows if not granted(consents, PERSONALIZATION)}


class SuppressionIndex:
    """Suppressions loaded for a group of recipients, answering as :meth:`Store.is_suppressed` would."""

    def __init__(self, rows: Iterable[Any], hash_email: Any):
        # the oldest suppression wins, as in is_suppressed: (row id, reason) per key
        self._by_profile: dict[str, tuple[int, str]] = {}
        self._by_hash: dict[str, tuple[int, str]] = {}
        for row in rows:  # oldest first
            if row.profile_id is not None:
                self._by_profile.setdefault(row.profile_id, (row.id, row.reason))
            if row.email_hash is not None:
                self._by_hash.setdefault(row.email_hash, (row.id, row.reason))
        self._hash_email = hash_email

    def reason(self, profile_id: str | None = None, *, email: str | None = None) -> str | None:
        """The reason this profile (or address) must not be emailed, or None (only for the loaded recipients)."""
        found = [self._by_profile.get(profile_id) if profile_id is not None else None]
        if email and self._by_hash:
            found.append(self._by_hash.get(self._hash_email(email)))
        return min((f for f in found if f is not None), default=(0, None))[1]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _naive_utc(value: datetime) -> datetime:
    """Aware datetimes are converted; naive ones are taken to be UTC already."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _as_email(ref: str) -> str | None:
    """``ref`` normalized when it is an email address, else None."""
    return email_address(ref)


@functools.lru_cache(maxsize=8)
def _suppression_query(by_profile: bool, hashes: int) -> Any:
    """The first suppression of a profile and/or address hashes, built once per shape (values bound per call)."""
    table = Suppression.__table__
    conditions: list[ColumnElement[bool]] = [table.c.email_hash == bindparam(f"hash_{i}") for i in range(hashes)]
    if by_profile:
        conditions.insert(0, table.c.profile_id == bindparam("profile_id"))
    return select(table.c.reason).where(or_(*conditions)).order_by(table.c.id).limit(1)
