"""Sealed copies of own buyer-only declarations, one per buyer: the outbox of the sealed bytes made once (a
retry resends exactly them), and the audience each declaration was sealed to."""

from __future__ import annotations

from collections.abc import Sequence

from pcfx.node.store.models import SealedDelivery, utcnow
from sqlalchemy import func
from sqlmodel import Session, col, select

__all__ = [
    "add_sealed_delivery",
    "mark_sealed_sent",
    "sealed_audiences",
    "sealed_deliveries",
    "sealed_heads",
    "unsent_sealed",
]


def add_sealed_delivery(
    session: Session,
    *,
    declaration_id: str,
    buyer: str,
    account: str,
    subject: str,
    msg_id: str,
    raw: bytes,
) -> SealedDelivery:
    """Keep one sealed copy of an own declaration for `buyer` (in the transaction storing the declaration)."""
    row = SealedDelivery(
        declaration_id=declaration_id,
        buyer=buyer,
        account=account,
        subject=subject,
        msg_id=msg_id,
        raw=raw,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def sealed_deliveries(session: Session, *, declaration_id: str) -> list[SealedDelivery]:
    """The sealed copies of one own declaration, by buyer."""
    query = (
        select(SealedDelivery)
        .where(SealedDelivery.declaration_id == declaration_id)
        .order_by(col(SealedDelivery.buyer))
    )
    return list(session.exec(query).all())


def unsent_sealed(session: Session) -> list[SealedDelivery]:
    """Sealed copies JetStream has not acknowledged yet, oldest first."""
    query = (
        select(SealedDelivery)
        .where(col(SealedDelivery.stream_seq).is_(None))
        .order_by(col(SealedDelivery.id))
    )
    return list(session.exec(query).all())


def mark_sealed_sent(session: Session, *, delivery_id: int, stream_seq: int) -> None:
    """Record the stream sequence JetStream acknowledged a sealed copy with (the first one is kept)."""
    row = session.get(SealedDelivery, delivery_id)
    if row is not None and row.stream_seq is None:
        row.stream_seq = stream_seq
        session.add(row)
        session.flush()


def sealed_audiences(
    session: Session, *, declaration_ids: Sequence[str] | None = None
) -> dict[str, frozenset[str]]:
    """Declaration id -> the buyer DIDs it was sealed to, for own buyer-only declarations (of `declaration_ids`)."""
    query = select(SealedDelivery.declaration_id, SealedDelivery.buyer)
    if declaration_ids is not None:
        query = query.where(col(SealedDelivery.declaration_id).in_(list(declaration_ids)))
    audiences: dict[str, set[str]] = {}
    for declaration_id, buyer in session.exec(query).all():
        audiences.setdefault(declaration_id, set()).add(buyer)
    return {key: frozenset(value) for key, value in audiences.items()}


def sealed_heads(session: Session) -> list[SealedDelivery]:
    """The newest sealed copy on every buyer-only subject (what the stream must hold as its last message)."""
    newest = (
        select(SealedDelivery.subject, func.max(SealedDelivery.id).label("id"))
        .group_by(col(SealedDelivery.subject))
        .subquery()
    )
    query = select(SealedDelivery).join(newest, col(SealedDelivery.id) == newest.c.id)
    return list(session.exec(query.order_by(col(SealedDelivery.id))).all())
