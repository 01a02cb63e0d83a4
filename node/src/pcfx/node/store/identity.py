"""A database belongs to one node: the first node (or `pcfx init`) to open it records its DID and company
id in it, and a node with another DID is refused, so two homes never share (and mix) one database."""

from __future__ import annotations

from dataclasses import dataclass

from pcfx.node.store.health import StoreError
from pcfx.node.store.repository.meta import get_meta, set_meta
from sqlmodel import Session

__all__ = ["StoreIdentity", "StoreIdentityError", "bind_identity", "bound_identity"]

_DID = "node.did"
_COMPANY = "node.company_id"


class StoreIdentityError(StoreError):
    """The database belongs to another node identity."""


@dataclass(frozen=True, slots=True)
class StoreIdentity:
    """The node a database belongs to."""

    did: str
    company_id: str | None


def bound_identity(session: Session) -> StoreIdentity | None:
    """The node the database belongs to, or None before any node opened it."""
    did = get_meta(session, key=_DID)
    return None if did is None else StoreIdentity(did, get_meta(session, key=_COMPANY))


def bind_identity(session: Session, *, did: str, company_id: str, where: str) -> StoreIdentity:
    """Record `did` (and `company_id`) as the database's owner if it has none; refuse (StoreIdentityError)
    a database that belongs to another DID. A changed company id of the same DID is recorded."""
    bound = bound_identity(session)
    if bound is not None and bound.did != did:
        owner = bound.did if bound.company_id is None else f"{bound.did} ({bound.company_id})"
        raise StoreIdentityError(
            f"database {where} belongs to {owner}, not to this node's {did}: "
            "every node home needs a database of its own (set database_url)"
        )
    if bound is None:
        set_meta(session, key=_DID, value=did)
    if bound is None or bound.company_id != company_id:
        set_meta(session, key=_COMPANY, value=company_id)
    return StoreIdentity(did, company_id)
