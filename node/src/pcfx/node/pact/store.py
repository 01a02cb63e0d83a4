"""PACT data in the node store: registered clients, access rules, unsigned third-party footprints, and the
store-backed sources the host serves from (the node's own declarations, wrapped for PACT).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pcfx.node.pact.access import AccessRule, footprint_readers
from pcfx.node.pact.auth import (
    ALL_SCOPES,
    KNOWN_SCOPES,
    RegisteredClient,
    hash_secret,
    new_client_id,
    new_client_secret,
)
from pcfx.node.pact.envelope import wrap_declaration
from pcfx.node.pact.filters import parse_timestamp
from pcfx.node.pact.source import FootprintSnapshot, V2Converter, serve
from pcfx.node.store import repository as repo
from pcfx.node.store.db import session_scope
from pcfx.node.store.models import Declaration, DeclarationState, Origin, ProductAccess, utcnow
from pcfx.node.store.pact_tables import PactAccessRule, PactClient, UnsignedFootprint
from sqlalchemy import Engine, func
from sqlmodel import Session, col, delete, select

__all__ = [
    "SERVED_STATES",
    "NewClient",
    "StoreClientRegistry",
    "StoreFootprintSource",
    "UnsignedOutcome",
    "add_client",
    "get_client",
    "grant_access",
    "list_access_rules",
    "list_clients",
    "list_unsigned",
    "remove_client",
    "revoke_access",
    "save_unsigned",
]

# Own declarations served over PACT, and the PACT status each state shows.
SERVED_STATES: dict[str, str] = {
    DeclarationState.ACTIVE: "Active",
    DeclarationState.SUPERSEDED: "Deprecated",
    DeclarationState.DEPRECATED: "Deprecated",
}


@dataclass(frozen=True, slots=True)
class NewClient:
    """A freshly registered client; `client_secret` is shown once and never stored."""

    client_id: str
    name: str
    client_secret: str
    scopes: frozenset[str]


def _registered(row: PactClient) -> RegisteredClient:
    return RegisteredClient(
        client_id=row.client_id,
        name=row.name,
        secret_hash=row.secret_hash,
        scopes=frozenset(row.scopes.split()),
    )


def add_client(
    session: Session,
    *,
    name: str,
    client_id: str | None = None,
    scopes: frozenset[str] = ALL_SCOPES,
    buyer_did: str | None = None,
) -> NewClient:
    """Register a client with a fresh secret (raises ValueError if the id is taken or a scope unknown);
    `buyer_did`: the buyer company it acts for (it then reads the products restricted to that buyer)."""
    if buyer_did is not None and not buyer_did.startswith("did:"):
        raise ValueError(f"a client is bound to a buyer's DID, not {buyer_did!r}")
    unknown = scopes - KNOWN_SCOPES
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    chosen = client_id or new_client_id()
    if get_client(session, client_id=chosen) is not None:
        raise ValueError(f"client {chosen!r} is already registered")
    secret = new_client_secret()
    session.add(
        PactClient(
            client_id=chosen,
            name=name,
            secret_hash=hash_secret(secret),
            scopes=" ".join(sorted(scopes)),
            buyer_did=buyer_did,
            created_at=utcnow(),
        )
    )
    session.flush()
    return NewClient(client_id=chosen, name=name, client_secret=secret, scopes=scopes)


def get_client(session: Session, *, client_id: str) -> PactClient | None:
    """A registered client by id."""
    return session.exec(select(PactClient).where(PactClient.client_id == client_id)).first()


def list_clients(session: Session) -> list[PactClient]:
    """Every registered client, oldest first."""
    return list(session.exec(select(PactClient).order_by(col(PactClient.id))).all())


def remove_client(session: Session, *, client_id: str) -> bool:
    """Unregister a client and drop its access rules; False when it was not registered."""
    row = get_client(session, client_id=client_id)
    if row is None:
        return False
    session.exec(delete(PactAccessRule).where(col(PactAccessRule.client_id) == client_id))
    session.delete(row)
    session.flush()
    return True


def grant_access(session: Session, *, subject: str, client_id: str) -> bool:
    """Restrict `subject` (footprint id or product id) to named clients, naming `client_id`; False if known."""
    if get_client(session, client_id=client_id) is None:
        raise ValueError(f"client {client_id!r} is not registered")
    if _access_rule(session, subject=subject, client_id=client_id) is not None:
        return False
    session.add(PactAccessRule(subject=subject, client_id=client_id, created_at=utcnow()))
    session.flush()
    return True


def revoke_access(session: Session, *, subject: str, client_id: str) -> bool:
    """Remove one access rule; False when there was none."""
    row = _access_rule(session, subject=subject, client_id=client_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def _access_rule(session: Session, *, subject: str, client_id: str) -> PactAccessRule | None:
    return session.exec(
        select(PactAccessRule).where(PactAccessRule.subject == subject, PactAccessRule.client_id == client_id)
    ).first()


def list_access_rules(session: Session) -> list[AccessRule]:
    """Every access rule."""
    rows = session.exec(select(PactAccessRule).order_by(col(PactAccessRule.id))).all()
    return [AccessRule(subject=row.subject, client_id=row.client_id) for row in rows]


class UnsignedOutcome(StrEnum):
    STORED = "stored"
    UPDATED = "updated"
    DUPLICATE = "duplicate"


def save_unsigned(session: Session, *, document: Mapping[str, Any], source: str) -> UnsignedOutcome:
    """Keep a plain (unsigned) PACT v3 footprint received from `source` as third-party data."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    footprint_id = str(document["id"]).lower()
    created = parse_timestamp(str(document.get("created", ""))) or utcnow()
    row = session.exec(
        select(UnsignedFootprint).where(
            UnsignedFootprint.footprint_id == footprint_id, UnsignedFootprint.source == source
        )
    ).first()
    if row is not None and row.document == text:
        return UnsignedOutcome.DUPLICATE
    facts: dict[str, Any] = {
        "company_name": str(document.get("companyName", ""))[:512],
        "product_ids": json.dumps(list(document.get("productIds") or [])),
        "status": str(document.get("status", ""))[:16],
        "footprint_created": created,
        "document": text,
        "received_at": utcnow(),
    }
    if row is None:
        session.add(UnsignedFootprint(footprint_id=footprint_id, source=source, **facts))
        outcome = UnsignedOutcome.STORED
    else:
        for name, value in facts.items():
            setattr(row, name, value)
        session.add(row)
        outcome = UnsignedOutcome.UPDATED
    session.flush()
    return outcome


def list_unsigned(session: Session, *, product_id: str | None = None) -> list[UnsignedFootprint]:
    """Unsigned third-party footprints, newest first, optionally those naming `product_id`."""
    rows = session.exec(
        select(UnsignedFootprint).order_by(
            col(UnsignedFootprint.footprint_created).desc(), col(UnsignedFootprint.id).desc()
        )
    ).all()
    if product_id is None:
        return list(rows)
    wanted = product_id.casefold()
    return [row for row in rows if wanted in (p.casefold() for p in json.loads(row.product_ids))]


class StoreClientRegistry:
    """The client registry of the node store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get_client(self, client_id: str) -> RegisteredClient | None:
        with session_scope(self._engine) as session:
            row = get_client(session, client_id=client_id)
            return None if row is None else _registered(row)


def served_document(row: Declaration) -> dict[str, Any]:
    """The PACT v3 footprint served for one of the node's own declarations."""
    served = wrap_declaration(json.loads(row.raw))
    # A later version deprecates this one; the signed subject keeps the status it was signed with, the
    # status the host reports follows the store (and the credential's status list).
    served["status"] = SERVED_STATES.get(row.state, served.get("status", "Active"))
    return served


class StoreFootprintSource:
    """Serves the node's own declarations (active, superseded, deprecated), re-reading the store when it changes.

    Changes are noticed within `refresh_seconds` (a cheap fingerprint query), or at once after `invalidate()`.
    """

    def __init__(
        self, engine: Engine, *, to_v2: V2Converter | None = None, refresh_seconds: float = 1.0
    ) -> None:
        self._engine = engine
        self._to_v2 = to_v2
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._snapshot: FootprintSnapshot | None = None
        self._fingerprint: tuple[Any, ...] | None = None
        self._checked_at = 0.0

    def invalidate(self) -> None:
        """Re-read the store on the next request."""
        self._checked_at = 0.0

    def _current_fingerprint(self, session: Session) -> tuple[Any, ...]:
        declarations = session.exec(
            select(func.count(), func.max(Declaration.id), func.max(Declaration.state_changed_at)).where(
                Declaration.origin == str(Origin.OWN)
            )
        ).one()
        rules = session.exec(select(func.count(), func.max(PactAccessRule.id))).one()
        clients = session.exec(select(func.count(), func.max(PactClient.id))).one()
        access = session.exec(select(func.count(), func.max(ProductAccess.updated_at))).one()
        return (*declarations, *rules, *clients, *access)

    def _load(self, session: Session) -> FootprintSnapshot:
        rows: Sequence[Declaration] = session.exec(
            select(Declaration)
            .where(Declaration.origin == str(Origin.OWN), col(Declaration.state).in_(list(SERVED_STATES)))
            .order_by(col(Declaration.footprint_created), col(Declaration.id))
        ).all()
        rules = list_access_rules(session)
        # One policy per product for the bus and PACT: a product restricted to buyers, or a declaration sealed
        # to buyers, is read only by the clients bound to those buyers.
        restricted = repo.restricted_products(session)
        audiences = repo.sealed_audiences(session)
        bound = {client.client_id: client.buyer_did for client in list_clients(session)}
        served = []
        for row in rows:
            item = serve(served_document(row), rules=rules)
            readers = footprint_readers(
                item.document,
                rules=rules,
                product_buyers=restricted.get(row.product_id),
                sealed_to=audiences.get(row.declaration_id),
                bound=bound,
            )
            served.append(dataclasses.replace(item, readers=readers))
        return FootprintSnapshot(tuple(served), to_v2=self._to_v2)

    def snapshot(self) -> FootprintSnapshot:
        now = time.monotonic()
        current = self._snapshot
        if current is not None and now - self._checked_at < self._refresh:
            return current
        with self._lock:
            if self._snapshot is not None and time.monotonic() - self._checked_at < self._refresh:
                return self._snapshot
            with session_scope(self._engine) as session:
                fingerprint = self._current_fingerprint(session)
                if self._snapshot is None or fingerprint != self._fingerprint:
                    self._snapshot = self._load(session)
                    self._fingerprint = fingerprint
            self._checked_at = time.monotonic()
            return self._snapshot
