"""What the store says about a feed (a followed supplier, or one of its products) and about the node's own
publications: the last verified version received, the rejections since, and the own heads to keep on the
stream."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pcfx.node.store.models import Declaration, Origin, QuarantinedMessage
from sqlalchemy import func
from sqlmodel import Session, col, or_, select

__all__ = ["Rejections", "last_received", "own_heads", "rejections_since"]


@dataclass(frozen=True, slots=True)
class Rejections:
    """Messages of a feed quarantined since an instant: how many, and the last one's reason and time."""

    count: int
    last_reason: str | None = None
    last_detail: str | None = None
    last_at: datetime | None = None


def last_received(session: Session, *, issuer: str, product_id: str | None = None) -> Declaration | None:
    """The received declaration of `issuer` (one product, or any) stored last, whatever its state."""
    query = select(Declaration).where(
        Declaration.origin == str(Origin.RECEIVED), Declaration.issuer == issuer
    )
    if product_id is not None:
        query = query.where(Declaration.product_id == product_id)
    return session.exec(query.order_by(col(Declaration.id).desc()).limit(1)).first()


def rejections_since(
    session: Session, *, subjects: list[str], prefixes: list[str], since: datetime | None
) -> Rejections:
    """Quarantined messages on one of `subjects` or under one of `prefixes` (subject text up to a token),
    seen after `since` (all when None)."""
    match = [QuarantinedMessage.subject == s for s in subjects] + [
        col(QuarantinedMessage.subject).startswith(p, autoescape=True) for p in prefixes
    ]
    if not match:
        return Rejections(0)
    where = [or_(*match)]
    if since is not None:
        where.append(col(QuarantinedMessage.last_seen_at) > since)
    count = session.exec(select(func.count()).select_from(QuarantinedMessage).where(*where)).one()
    if not count:
        return Rejections(0)
    last = session.exec(
        select(QuarantinedMessage)
        .where(*where)
        .order_by(col(QuarantinedMessage.last_seen_at).desc(), col(QuarantinedMessage.id).desc())
        .limit(1)
    ).first()
    assert last is not None
    return Rejections(int(count), last.reason, last.detail, last.last_seen_at)


def own_heads(session: Session) -> list[Declaration]:
    """The newest own declaration of every subject the node publishes on (what the stream must hold)."""
    newest = (
        select(Declaration.subject, func.max(Declaration.id).label("id"))
        .where(Declaration.origin == str(Origin.OWN), col(Declaration.subject).is_not(None))
        .group_by(col(Declaration.subject))
        .subquery()
    )
    query = select(Declaration).join(newest, col(Declaration.id) == newest.c.id).order_by(col(Declaration.id))
    return list(session.exec(query).all())
