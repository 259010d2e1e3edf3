"""The tables of the store, as SQLAlchemy 2 declarative models.

Times are stored as naive UTC ``DateTime`` on both dialects, so comparisons and
indexes behave the same on SQLite (text) and PostgreSQL (``timestamp``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: JSON everywhere, JSONB on PostgreSQL (smaller, faster to read back)
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    # Every model here is declared with columns, so its ``__table__`` is a Table (SQLAlchemy
    # types it as the wider FromClause, which has no insert/update/delete for the type checker).
    __table__: ClassVar[Table]


class Profile(Base):
    """One person. ``traits``/``consents`` carry their own per-key stamps in ``stamps``."""

    __tablename__ = "profiles"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    traits: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    consents: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: {"traits": {name: [time, messageId]}, "email": [time, messageId],
    #:  "consents": {purpose: {source: [time, messageId, granted]}}}
    #: — the write that set each value, so last-write-wins is order-independent
    stamps: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    locale: Mapped[str | None] = mapped_column(String(35))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Identity(Base):
    """An identifier that resolves to a profile; emails are stored as a keyed hash."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_identities_kind_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # user_id | anonymous_id | email
    value: Mapped[str] = mapped_column(String(255))
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Event(Base):
    """One Segment message (track, identify, page, screen, group, alias).

    ``messageId`` is unique per ``scope`` — who the message is about (``user:<userId>``,
    else ``anon:<anonymousId>``; ``esp`` for ESP events; ``''`` for rows stored before
    migration 0005, which match any scope) — so a retry is a duplicate but one sender's
    id cannot make another person's event vanish.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_profile_timestamp", "profile_id", "timestamp"),
        Index("ix_events_timestamp", "timestamp"),
        UniqueConstraint("message_id", "scope", name="uq_events_message_scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(300), default="", server_default="")
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    #: the track event name, or the page/screen/group name
    event: Mapped[str | None] = mapped_column(String(255))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    timestamp: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)


class Product(Base):
    """One catalog product (columns of ``fixtures/catalog.csv``)."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(255), index=True)
    brand: Mapped[str | None] = mapped_column(String(255))
    price: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer, default=0)
    image_url: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class TriggerState(Base):
    """When a trigger last fired for a profile (``key`` scopes it, e.g. a cart)."""

    __tablename__ = "trigger_state"
    __table_args__ = (
        UniqueConstraint("profile_id", "trigger", "key", name="uq_trigger_state"),
        # the incremental scan's "cooldown ended since the last scan" read: a slice of one
        # trigger's firings, not all of them (migration 0010)
        Index("ix_trigger_state_trigger_fired", "trigger", "fired_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255), default="")
    fired_at: Mapped[datetime] = mapped_column(DateTime)
    #: outbox of ``tailor triggers scan --notify`` (migration 0002): what to send, when it
    #: was claimed and acknowledged, and which scan holds the delivery lease
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Suppression(Base):
    """Do not email: by profile and/or by email hash (which survives erasure)."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str | None] = mapped_column(ForeignKey("profiles.id", ondelete="SET NULL"), index=True)
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class StoreMeta(Base):
    """Per-database settings, e.g. the random key of the email hash."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Exposure(Base):
    """One recipient saw one experiment variant in one send (deduplicated per send)."""

    __tablename__ = "exposures"
    __table_args__ = (
        UniqueConstraint("experiment", "profile_id", "send_key", name="uq_exposures_send"),
        Index("ix_exposures_experiment", "experiment", "variant"),
        Index("ix_exposures_profile", "profile_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment: Mapped[str] = mapped_column(String(100))
    variant: Mapped[str] = mapped_column(String(100))
    profile_id: Mapped[str] = mapped_column(String(255))
    send_key: Mapped[str] = mapped_column(String(255))
    template: Mapped[str] = mapped_column(String(255))
    exposed_at: Mapped[datetime] = mapped_column(DateTime)


class Send(Base):
    """One email rendered for a recipient, and what personalization chose for it.

    Written at render (once per ``send_key``) so outcomes can be credited to the blocks,
    rules, segments and recommender behind them (:mod:`tailor.monitor.outcomes`). Nothing
    personal but the profile id: erasure and merges find the row by it.
    """

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint("profile_id", "send_key", name="uq_sends_send"),
        Index("ix_sends_sent_at", "sent_at"),
        Index("ix_sends_profile", "profile_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(255))
    send_key: Mapped[str] = mapped_column(String(255))
    template: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    #: in the control group: rendered without personalization, to measure its lift
    control: Mapped[bool] = mapped_column(default=False)
    #: ``{slot: block}``
    blocks: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: ``{slot: winning rule id or null}``
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    segments: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: ``{"provider": ..., "version": ..., "products": [ids]}`` when the email showed recommendations
    recs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: the reasons of the fallbacks the render took (``recs-timeout``, ``block-error``…), codes only
    fallbacks: Mapped[list[str]] = mapped_column(JSONType, default=list)


class UsedWebhookToken(Base):
    """A single-use ESP webhook token (Mailgun's ``signature.token``) already seen, until it expires.

    In the database — not in a worker's memory — so a replay is refused whichever worker
    gets it and after a restart. ``digest`` is of the content it came with: the same
    token with the same content is the provider's retry (a duplicate), with other
    content a replay (refused).
    """

    __tablename__ = "webhook_tokens"
    __table_args__ = (
        UniqueConstraint("provider", "token", name="uq_webhook_tokens"),
        Index("ix_webhook_tokens_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class Delivery(Base):
    """One email handed to an SMTP relay (or to an ESP through ``/v1/render``), journaled.

    The journal makes delivery at-most-once (:mod:`tailor.delivery.journal`): a row is
    written before the SMTP transaction, moved to ``committing`` just before the final
    ``.`` of DATA, and to ``sent`` (or ``failed``) after the server's answer. ``send_id``
    is unique: a re-run or a second process finds the row instead of sending again.
    No address is kept, only the store's keyed hash of it.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("send_id", name="uq_deliveries_send_id"),
        Index("ix_deliveries_profile_counted", "profile_id", "counted_at"),
        Index("ix_deliveries_email_counted", "email_hash", "counted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    send_id: Mapped[str] = mapped_column(String(255))
    profile_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    email_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    template: Mapped[str] = mapped_column(String(255), default="")
    #: ``smtp`` (tailor sent it) or ``esp`` (an ESP rendered it through /v1/render with a send_id)
    channel: Mapped[str] = mapped_column(String(16))
    #: counts toward the frequency cap (transactional templates do not)
    marketing: Mapped[bool] = mapped_column(default=True)
    #: intent | committing | sent | failed | capped | handed
    status: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    #: when the email counts for the frequency cap (sent, or handed to the ESP)
    counted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class IngestRun(Base):
    """A file being bulk-ingested (by content digest): its records, and how many are applied.

    Written with the records it counts, so after a crash a re-run resumes where the last
    committed chunk ended (:mod:`tailor.store.bulk`).
    """

    __tablename__ = "ingest_runs"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    total: Mapped[int] = mapped_column(Integer)
    applied: Mapped[int] = mapped_column(Integer)
    #: every record of the file is validated and staged: applying may start
    staged: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class IngestStaged(Base):
    """One validated record of a bulk-ingestion run, waiting to be applied (deleted when the run ends)."""

    __tablename__ = "ingest_staged"

    run: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    payload: Mapped[str] = mapped_column(Text)


class TriggerScanCursor(Base):
    """What the last incremental trigger scan looked at (:mod:`tailor.triggers.scan`)."""

    __tablename__ = "trigger_scan_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the trigger definitions it scanned with: other definitions need a full scan
    specs_digest: Mapped[str] = mapped_column(String(64))
    #: the largest ``events.id`` it read
    last_event_id: Mapped[int] = mapped_column(Integer)
    #: the ``at`` it scanned as of (naive UTC)
    scanned_at: Mapped[datetime] = mapped_column(DateTime)
    #: the profile ids it reported due (still due until something about them changes)
    due: Mapped[list[str]] = mapped_column(JSONType, default=list)
