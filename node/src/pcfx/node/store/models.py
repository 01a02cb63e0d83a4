"""SQLModel tables of the node store. Signed bytes are kept verbatim; the other columns are indexes over them."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

__all__ = [
    "AuditEntry",
    "Declaration",
    "DeclarationState",
    "Inventory",
    "Origin",
    "ProductAccess",
    "QuarantineDropped",
    "QuarantinedMessage",
    "Result",
    "SealedDelivery",
    "StatusList",
    "StoreMeta",
    "Subscription",
    "UTCDateTime",
    "VerificationReceipt",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC instants as naive UTC (SQLite has no time zones) and always returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Origin(StrEnum):
    OWN = "own"
    RECEIVED = "received"


class DeclarationState(StrEnum):
    """Usability of a stored declaration: only `active` ones are used in calculations."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    DEPRECATED = "deprecated"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


class VerificationReceipt(SQLModel, table=True):
    """One verification of one message: which key, which registry version, when, and the outcome."""

    __tablename__ = "verification_receipt"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr

    id: int | None = Field(default=None, primary_key=True)
    declaration_id: str | None = Field(default=None, index=True, max_length=512)
    issuer: str | None = Field(default=None, max_length=512)
    verification_method: str | None = Field(default=None, max_length=1024)
    registry_version: str | None = Field(default=None, max_length=64)
    verified_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ok: bool
    reason: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    sha256: str = Field(max_length=64, description="SHA-256 hex of the verified bytes.")


class Declaration(SQLModel, table=True):
    """A signed declaration, own or received, with the bytes exactly as signed/received."""

    __tablename__ = "declaration"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (
        UniqueConstraint("origin", "declaration_id", name="uq_declaration_origin_id"),
        Index("ix_declaration_lookup", "origin", "issuer", "product_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    declaration_id: str = Field(max_length=512, index=True)
    origin: str = Field(max_length=16)
    issuer: str = Field(max_length=512)
    product_id: str = Field(max_length=512)
    footprint_id: str = Field(max_length=512)
    footprint_created: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    valid_from: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    valid_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    state: str = Field(default=DeclarationState.ACTIVE, max_length=16)
    state_changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    superseded_by: str | None = Field(default=None, max_length=512)
    raw: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    sha256: str = Field(max_length=64, index=True)
    subject: str | None = Field(default=None, max_length=512)
    stream_seq: int | None = Field(default=None)
    receipt_id: int | None = Field(default=None, foreign_key="verification_receipt.id")
    stored_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class StatusList(SQLModel, table=True):
    """The latest verified status-list credential of an issuer (revocation / deprecation bits)."""

    __tablename__ = "status_list"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (UniqueConstraint("list_id", name="uq_status_list_id"),)

    id: int | None = Field(default=None, primary_key=True)
    list_id: str = Field(max_length=1024)
    issuer: str = Field(max_length=512, index=True)
    purpose: str | None = Field(default=None, max_length=32)
    valid_from: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    raw: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    sha256: str = Field(max_length=64)
    stored_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class QuarantinedMessage(SQLModel, table=True):
    """A rejected bus message with why it was rejected; never used, kept for inspection.

    One row per content (SHA-256 of the bytes): the same junk again only counts (`times_seen`, `last_seen_at`),
    and a redelivery of the stream message counted last (same `stream_seq`) not even that. The bytes are
    kept up to a limit (`stored_size`); `size` is the full size."""

    __tablename__ = "quarantine"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (
        UniqueConstraint("sha256", name="uq_quarantine_sha256"),
        # retention: the oldest first, and the kept bytes summed from the index alone
        Index("ix_quarantine_age", "last_seen_at", "stored_size"),
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    times_seen: int = Field(default=1)
    subject: str | None = Field(default=None, max_length=512)
    stream_seq: int | None = Field(default=None)  # the stream message counted last
    reason: str = Field(max_length=64, index=True)
    detail: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    declaration_id: str | None = Field(default=None, max_length=512)
    issuer: str | None = Field(default=None, max_length=512)
    size: int
    stored_size: int = Field(description="Bytes of `raw` kept (the first ones, up to the limit).")
    sha256: str = Field(max_length=64)
    raw: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    receipt_id: int | None = Field(default=None, foreign_key="verification_receipt.id")


class QuarantineDropped(SQLModel, table=True):
    """What the quarantine's retention dropped, per cause (rows, bytes, age limit, purge): totals for
    `pcfx quarantine` and the metrics."""

    __tablename__ = "quarantine_dropped"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr

    cause: str = Field(primary_key=True, max_length=16)
    messages_dropped: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    bytes_dropped: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    last_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class StoreMeta(SQLModel, table=True):
    """Facts about the store itself, by key: the identity (DID, company id) of the node it belongs to."""

    __tablename__ = "store_meta"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Subscription(SQLModel, table=True):
    """A supplier (and optionally one of its products) this node follows. `consumer` is the feed's name (a
    digest of its filters, `pcfx.node.following.feed_name`): the node's one intake consumer carries every
    active subscription's `filter_subjects` (before the intake it was each subscription's own consumer)."""

    __tablename__ = "subscription"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (UniqueConstraint("consumer", name="uq_subscription_consumer"),)

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=512, index=True)
    product_id: str | None = Field(default=None, max_length=512)
    consumer: str = Field(max_length=128)
    filter_subjects: str = Field(sa_column=Column(Text(), nullable=False), description="JSON list.")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    active: bool = True


class Inventory(SQLModel, table=True):
    """The node's own inventory (bill of inputs) of one product, as a JSON document."""

    __tablename__ = "inventory"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (UniqueConstraint("product_id", name="uq_inventory_product"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: str = Field(max_length=512)
    name: str | None = Field(default=None, max_length=512)
    document: str = Field(sa_column=Column(Text(), nullable=False), description="JSON.")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Result(SQLModel, table=True):
    """One footprint calculation of an own product; `document` lists the source of every purchased input."""

    __tablename__ = "result"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (Index("ix_result_product_time", "product_id", "computed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: str = Field(max_length=512)
    inventory_id: int | None = Field(default=None, foreign_key="inventory.id")
    computed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    total: str = Field(max_length=64, description="Decimal string, kgCO2e per declared unit.")
    unit: str | None = Field(default=None, max_length=64)
    state: str = Field(default="computed", max_length=16)
    declaration_id: str | None = Field(default=None, max_length=512)
    document: str = Field(sa_column=Column(Text(), nullable=False), description="JSON.")


class AuditEntry(SQLModel, table=True):
    """Append-only log of what the node did and why."""

    __tablename__ = "audit_log"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    event: str = Field(max_length=64, index=True)
    declaration_id: str | None = Field(default=None, max_length=512)
    subject: str | None = Field(default=None, max_length=512)
    detail: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))


class ProductAccess(SQLModel, table=True):
    """Who an own product is declared to: every buyer (no row, or `buyers` NULL) or only the buyers named.

    The one access policy of a product: it decides the bus (public subject, or sealed to each buyer) and
    which PACT clients may read its footprints (those bound to one of the buyers)."""

    __tablename__ = "product_access"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (UniqueConstraint("product_id", name="uq_product_access_product"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: str = Field(max_length=512)
    buyers: str | None = Field(
        default=None, sa_column=Column(Text(), nullable=True), description="JSON list of DIDs; NULL: public."
    )
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SealedDelivery(SQLModel, table=True):
    """One buyer-only copy of an own declaration: the sealed bytes made once (every retry resends them), the
    buyer, its account and subject, and the stream sequence once JetStream acknowledged it (outbox)."""

    __tablename__ = "sealed_delivery"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (UniqueConstraint("declaration_id", "buyer", name="uq_sealed_delivery"),)

    id: int | None = Field(default=None, primary_key=True)
    declaration_id: str = Field(max_length=512, index=True)
    buyer: str = Field(max_length=512, description="The buyer's DID.")
    account: str = Field(max_length=64, description="The buyer's NATS account public key.")
    subject: str = Field(max_length=512)
    msg_id: str = Field(max_length=640, description="Nats-Msg-Id: declaration id # recipients digest.")
    raw: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    stream_seq: int | None = Field(default=None)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
