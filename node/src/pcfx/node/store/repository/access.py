"""The access policy of own products: public (every buyer), or only the buyers named (their DIDs).

One policy per product drives both channels: the bus (the public subject, or a sealed copy per buyer) and
the PACT API (only clients bound to one of the buyers read a restricted product)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from pcfx.node.store.models import ProductAccess, utcnow
from sqlmodel import Session, col, select

__all__ = ["AccessPolicy", "get_access_policy", "restricted_products", "set_access_policy"]


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """`buyers` None: public; else the DIDs of the only buyers the product is declared to (sorted, unique)."""

    buyers: tuple[str, ...] | None = None

    @classmethod
    def to_buyers(cls, buyers: Iterable[str]) -> AccessPolicy:
        """A policy restricted to `buyers` (at least one DID)."""
        chosen = tuple(sorted(set(buyers)))
        if not chosen:
            raise ValueError("a product restricted to buyers needs at least one buyer DID")
        for did in chosen:
            if not did.startswith("did:"):
                raise ValueError(f"a buyer is named by its DID (did:web:... or did:key:...), not {did!r}")
        return cls(chosen)

    @property
    def public(self) -> bool:
        return self.buyers is None

    def describe(self) -> str:
        """`public`, or `buyers: did1, did2`."""
        return "public" if self.buyers is None else "buyers: " + ", ".join(self.buyers)


def get_access_policy(session: Session, *, product_id: str) -> AccessPolicy:
    """The policy of an own product (public when none was set)."""
    row = session.exec(select(ProductAccess).where(ProductAccess.product_id == product_id)).first()
    return _policy(row)


def set_access_policy(session: Session, *, product_id: str, policy: AccessPolicy) -> bool:
    """Store the policy of an own product; False when it was that already."""
    row = session.exec(select(ProductAccess).where(ProductAccess.product_id == product_id)).first()
    if _policy(row) == policy:
        return False
    buyers = None if policy.buyers is None else json.dumps(list(policy.buyers))
    if row is None:
        row = ProductAccess(product_id=product_id, buyers=buyers, updated_at=utcnow())
    else:
        row.buyers, row.updated_at = buyers, utcnow()
    session.add(row)
    session.flush()
    return True


def restricted_products(session: Session) -> dict[str, frozenset[str]]:
    """Product id -> the buyer DIDs of every own product restricted to buyers."""
    rows = session.exec(select(ProductAccess).where(col(ProductAccess.buyers).is_not(None))).all()
    return {row.product_id: frozenset(_policy(row).buyers or ()) for row in rows}


def _policy(row: ProductAccess | None) -> AccessPolicy:
    if row is None or row.buyers is None:
        return AccessPolicy()
    return AccessPolicy(tuple(json.loads(row.buyers)))
