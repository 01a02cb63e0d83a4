"""Response models of the node API."""

from __future__ import annotations

from datetime import datetime

from pcfx.node.store.models import Declaration, QuarantinedMessage, Subscription
from pydantic import BaseModel

__all__ = ["DeclarationSummary", "QuarantineSummary", "SubscriptionSummary"]


class DeclarationSummary(BaseModel):
    declaration_id: str
    origin: str
    issuer: str
    product_id: str
    footprint_id: str
    footprint_created: datetime
    valid_from: datetime | None
    valid_until: datetime | None
    state: str
    superseded_by: str | None
    sha256: str
    receipt_id: int | None
    stored_at: datetime

    @classmethod
    def of(cls, row: Declaration) -> DeclarationSummary:
        return cls.model_validate(
            row.model_dump(exclude={"raw", "id", "subject", "stream_seq", "state_changed_at"})
        )


class QuarantineSummary(BaseModel):
    id: int
    received_at: datetime
    last_seen_at: datetime
    times_seen: int
    subject: str | None
    stream_seq: int | None
    reason: str
    detail: str | None
    declaration_id: str | None
    issuer: str | None
    size: int
    sha256: str

    @classmethod
    def of(cls, row: QuarantinedMessage) -> QuarantineSummary:
        return cls.model_validate(row.model_dump(exclude={"raw", "receipt_id"}))


class SubscriptionSummary(BaseModel):
    issuer: str
    product_id: str | None
    consumer: str
    created_at: datetime

    @classmethod
    def of(cls, row: Subscription) -> SubscriptionSummary:
        return cls(
            issuer=row.issuer, product_id=row.product_id, consumer=row.consumer, created_at=row.created_at
        )
