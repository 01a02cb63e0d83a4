"""Who may read each of the node's own declarations: the access policy the PACT API serves by, applied where
another surface (the admin API) serves a declaration."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pcfx.node.pact.access import footprint_readers
from pcfx.node.pact.store import list_access_rules, list_clients
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Declaration
from sqlmodel import Session

__all__ = ["own_declaration_readers"]


def own_declaration_readers(
    session: Session, rows: Sequence[Declaration]
) -> dict[str, frozenset[str] | None]:
    """Declaration id -> the client ids allowed to read it (None: every registered client), for own `rows`."""
    if not rows:
        return {}
    rules = list_access_rules(session)
    restricted = repo.restricted_products(session)
    audiences = repo.sealed_audiences(session, declaration_ids=[row.declaration_id for row in rows])
    bound = {client.client_id: client.buyer_did for client in list_clients(session)}
    readers: dict[str, frozenset[str] | None] = {}
    for row in rows:
        subject = json.loads(row.raw).get("credentialSubject")
        readers[row.declaration_id] = footprint_readers(
            subject if isinstance(subject, dict) else {},
            rules=rules,
            product_buyers=restricted.get(row.product_id),
            sealed_to=audiences.get(row.declaration_id),
            bound=bound,
        )
    return readers
