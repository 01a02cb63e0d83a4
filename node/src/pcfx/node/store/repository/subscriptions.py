"""Subscriptions: the (issuer, product) feeds this node follows, by feed name (`Subscription.consumer`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pcfx.node.store.models import Subscription, utcnow
from sqlmodel import Session, col, select

__all__ = ["active_consumers", "add_subscription", "deactivate_subscription", "list_subscriptions"]


def add_subscription(
    session: Session, *, issuer: str, product_id: str | None, consumer: str, filter_subjects: Sequence[str]
) -> Subscription:
    """Record a subscription (idempotent on the feed name; re-activates an inactive one)."""
    row = session.exec(select(Subscription).where(Subscription.consumer == consumer)).first()
    if row is None:
        row = Subscription(
            issuer=issuer,
            product_id=product_id,
            consumer=consumer,
            filter_subjects=json.dumps(list(filter_subjects)),
            created_at=utcnow(),
        )
    row.active = True
    session.add(row)
    session.flush()
    return row


def list_subscriptions(session: Session, *, active_only: bool = True) -> list[Subscription]:
    """Subscriptions in creation order."""
    query = select(Subscription)
    if active_only:
        query = query.where(col(Subscription.active).is_(True))
    return list(session.exec(query.order_by(col(Subscription.id))).all())


def active_consumers(session: Session) -> frozenset[str]:
    """The feed names of the active subscriptions: what a node checks every few seconds, so one column and
    no ORM objects."""
    query = select(Subscription.consumer).where(col(Subscription.active).is_(True))
    return frozenset(session.exec(query).all())


def deactivate_subscription(session: Session, *, consumer: str) -> Subscription | None:
    """Stop following a subscription; returns it, or None when unknown."""
    row = session.exec(select(Subscription).where(Subscription.consumer == consumer)).first()
    if row is not None:
        row.active = False
        session.add(row)
        session.flush()
    return row
